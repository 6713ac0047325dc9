#!/usr/bin/env bash
# Refresh the offline API docs assets in src/prow/openapi/_static/ from the npm registry.
#
# Usage: scripts/update_docs_assets.sh [SWAGGER_UI_SPEC] [REDOC_SPEC]
#   defaults: swagger-ui-dist@5 redoc@2
#
# Copies only the files prow serves (plus licence texts), never source maps, then rewrites the
# version/checksum table in _static/README.md. Review the diff and run the browser check before
# committing.
set -euo pipefail

SWAGGER_SPEC="${1:-swagger-ui-dist@5}"
REDOC_SPEC="${2:-redoc@2}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/src/prow/openapi/_static"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
SWAGGER_TGZ="$(npm pack --silent "$SWAGGER_SPEC" | tail -n 1)"
REDOC_TGZ="$(npm pack --silent "$REDOC_SPEC" | tail -n 1)"
mkdir swagger redoc
tar -xzf "$SWAGGER_TGZ" -C swagger
tar -xzf "$REDOC_TGZ" -C redoc
S="$WORK/swagger/package"
R="$WORK/redoc/package"
SWAGGER_VERSION="$(node -p "require('$S/package.json').version")"
REDOC_VERSION="$(node -p "require('$R/package.json').version")"

if [[ ! -f "$R/bundles/redoc.standalone.js" ]]; then
    echo "error: $REDOC_TGZ has no bundles/redoc.standalone.js; pick a version that ships it" >&2
    exit 1
fi

mkdir -p "$DEST"
cp "$S/swagger-ui-bundle.js" "$S/swagger-ui.css" "$S/oauth2-redirect.html" \
   "$S/oauth2-redirect.js" "$S/favicon-32x32.png" "$DEST/"
cp "$S/swagger-ui-bundle.js.LICENSE.txt" "$DEST/"
cp "$S/LICENSE" "$DEST/LICENSE-swagger-ui"
cp "$S/NOTICE" "$DEST/NOTICE-swagger-ui"
cp "$R/bundles/redoc.standalone.js" "$R/bundles/redoc.standalone.js.LICENSE.txt" "$DEST/"
cp "$R/LICENSE" "$DEST/LICENSE-redoc"
REDOC_UPSTREAM_SHA="$(sha256sum "$DEST/redoc.standalone.js" | cut -d' ' -f1)"

# ReDoc 2.x always shows its "API docs by Redocly" sidebar logo as an <img> loaded from
# cdn.redoc.ly: a request to the internet on every page view (which also sends the docs' origin
# as Referer). Point it at an empty inline image instead. Fail loudly if upstream changes it.
python3 - "$DEST/redoc.standalone.js" <<'PY'
import sys

path = sys.argv[1]
logo = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'
blank = b'"data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEAAAAALAAAAAABAAEAAAIBAAA="'
with open(path, "rb") as fh:
    bundle = fh.read()
if bundle.count(logo) != 1:
    sys.exit(f"error: expected the Redocly logo URL once in {path}; review the patch")
with open(path, "wb") as fh:
    fh.write(bundle.replace(logo, blank))
PY

cd "$DEST"
{
    echo "| file | from | sha256 |"
    echo "|---|---|---|"
    for f in swagger-ui-bundle.js swagger-ui.css oauth2-redirect.html oauth2-redirect.js \
             favicon-32x32.png; do
        echo "| \`$f\` | swagger-ui-dist $SWAGGER_VERSION | \`$(sha256sum "$f" | cut -d' ' -f1)\` |"
    done
    echo "| \`redoc.standalone.js\` | redoc $REDOC_VERSION (\`bundles/\`), logo URL patched;" \
         "upstream sha256 \`$REDOC_UPSTREAM_SHA\` |" \
         "\`$(sha256sum redoc.standalone.js | cut -d' ' -f1)\` |"
} > "$WORK/table.md"

# Replace everything between the two markers in README.md with the fresh table.
python3 - "$DEST/README.md" "$WORK/table.md" "$SWAGGER_VERSION" "$REDOC_VERSION" <<'PY'
import re
import sys

readme_path, table_path, swagger_version, redoc_version = sys.argv[1:]
with open(readme_path, encoding="utf-8") as fh:
    readme = fh.read()
with open(table_path, encoding="utf-8") as fh:
    table = fh.read()
readme = re.sub(
    r"(<!-- assets:begin -->\n).*?(<!-- assets:end -->)",
    lambda m: m.group(1) + table + m.group(2),
    readme,
    flags=re.S,
)
readme = re.sub(r"swagger-ui-dist `[^`]*`", f"swagger-ui-dist `{swagger_version}`", readme)
readme = re.sub(r"redoc `[^`]*`", f"redoc `{redoc_version}`", readme)
with open(readme_path, "w", encoding="utf-8") as fh:
    fh.write(readme)
PY

echo "updated: swagger-ui-dist $SWAGGER_VERSION, redoc $REDOC_VERSION -> $DEST"
