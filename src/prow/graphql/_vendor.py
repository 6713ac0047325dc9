"""GraphiQL served offline: the page and the vendored files it loads (``_static/README.md``)."""

from __future__ import annotations

import functools
import hashlib
import html
import json
from importlib.resources import files
from typing import TYPE_CHECKING, Final

from prow._exceptions import HTTPError
from prow._security import csp_header
from prow.responses import Response

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["GRAPHIQL_CSP", "graphiql_html", "mount_assets"]

_JS: Final = "text/javascript; charset=utf-8"
# The only files served: a request names one of these keys, never a path.
_MEDIA_TYPES: Final = {
    "graphiql.min.js": _JS,
    "graphiql.min.css": "text/css; charset=utf-8",
    "react.production.min.js": _JS,
    "react-dom.production.min.js": _JS,
    "graphiql-init.js": _JS,
}

#: GraphiQL's page may run only its own files, and talk only to this site. Its editor and
#: its React components set styles inline, hence 'unsafe-inline' for styles (not scripts).
GRAPHIQL_CSP: Final = csp_header(
    {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": "'self'",
        "form-action": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }
)

_DEFAULT_QUERY = "# Welcome to GraphiQL: write a query, then press Ctrl-Enter.\n"


def _assets_path(path: str) -> str:
    return f"{path.rstrip('/')}/_assets"


def graphiql_html(path: str) -> str:
    """The GraphiQL page for the endpoint at ``path``."""
    assets = html.escape(_assets_path(path), quote=True)
    config = json.dumps({"url": path, "defaultQuery": _DEFAULT_QUERY}, ensure_ascii=True)
    # Inside <script type="application/json">: no "<" may end the element early.
    config = config.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>GraphiQL</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{assets}/graphiql.min.css">
<style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL...</div>
<script type="application/json" id="prow-graphiql-config">{config}</script>
<script src="{assets}/react.production.min.js"></script>
<script src="{assets}/react-dom.production.min.js"></script>
<script src="{assets}/graphiql.min.js"></script>
<script src="{assets}/graphiql-init.js"></script>
</body>
</html>
"""


@functools.cache
def _read(name: str) -> tuple[bytes, str]:
    content = files("prow.graphql").joinpath("_static", name).read_bytes()
    return content, f'"{hashlib.sha256(content).hexdigest()[:32]}"'


def mount_assets(app: App, path: str) -> None:
    """Serve the allowed files under ``<path>/_assets/``."""

    async def graphiql_asset(name: str) -> Response:
        media_type = _MEDIA_TYPES.get(name)
        if media_type is None:
            raise HTTPError(404, f"no GraphiQL asset named {name!r}")
        content, etag = _read(name)
        headers = {"cache-control": "public, max-age=86400", "etag": etag}
        return Response(content, media_type=media_type, headers=headers)

    app.add_route(
        f"{_assets_path(path)}/{{name}}",
        graphiql_asset,
        ["GET"],
        name=f"graphql_assets{path.replace('/', '_')}",
        include_in_schema=False,
    )
