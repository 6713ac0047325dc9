"""Offline API documentation pages: Swagger UI and ReDoc, served from files inside prow.

The HTML pages load their JavaScript and CSS from ``assets_url``, which the app maps onto
:func:`load_asset`. Nothing is fetched from a CDN, so ``/docs`` and ``/redoc`` render on a
machine with no internet access. Where the vendored files come from, and how to update them,
is written in ``_static/README.md``.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Final

__all__ = [
    "ASSET_CACHE_CONTROL",
    "ASSET_NAMES",
    "Asset",
    "asset_etag",
    "etag_matches",
    "get_asset",
    "load_asset",
    "redoc_html",
    "swagger_ui_html",
    "swagger_ui_oauth2_redirect_html",
]

_JS: Final = "text/javascript; charset=utf-8"

# The only files that may be served. A request names one of these keys; it never supplies a
# path, so no "../" or absolute path from a URL can reach the file system.
_ASSET_MEDIA_TYPES: Final[dict[str, str]] = {
    "swagger-ui-bundle.js": _JS,
    "swagger-ui-init.js": _JS,
    "swagger-ui.css": "text/css; charset=utf-8",
    "oauth2-redirect.html": "text/html; charset=utf-8",
    "oauth2-redirect.js": _JS,
    "redoc.standalone.js": _JS,
    "favicon-32x32.png": "image/png",
}

ASSET_NAMES: Final[frozenset[str]] = frozenset(_ASSET_MEDIA_TYPES)
"""Names accepted by :func:`load_asset` and :func:`get_asset`."""

ASSET_CACHE_CONTROL: Final = "public, max-age=86400"
"""``Cache-Control`` value for asset responses: the files change only with a prow release."""

_SWAGGER_CONFIG_ID: Final = "prow-swagger-ui-config"


@dataclass(frozen=True, slots=True)
class Asset:
    """One vendored file, read once: its bytes, media type and strong ETag (quoted)."""

    content: bytes
    media_type: str
    etag: str


def get_asset(name: str) -> Asset | None:
    """Return the asset called ``name``, or ``None`` when it is not on the allow-list."""
    if name not in _ASSET_MEDIA_TYPES:
        # Checked before the cache: caching unknown names would let a client grow the cache
        # without bound by requesting endless made-up file names.
        return None
    return _read_asset(name)


def load_asset(name: str) -> tuple[bytes, str] | None:
    """Return ``(content, media type)`` for an allowed asset name, else ``None``."""
    asset = get_asset(name)
    return None if asset is None else (asset.content, asset.media_type)


def asset_etag(name: str) -> str | None:
    """Return the quoted strong ETag of an allowed asset, else ``None``."""
    asset = get_asset(name)
    return None if asset is None else asset.etag


@functools.cache
def _read_asset(name: str) -> Asset:
    content = files("prow.openapi").joinpath("_static", name).read_bytes()
    digest = hashlib.sha256(content).hexdigest()[:32]
    return Asset(content=content, media_type=_ASSET_MEDIA_TYPES[name], etag=f'"{digest}"')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Tell whether an ``If-None-Match`` header value matches ``etag`` (answer 304 if so).

    Uses the weak comparison RFC 9110 prescribes for ``If-None-Match``: a ``W/`` prefix is
    ignored, and ``*`` matches any current representation.
    """
    if not if_none_match:
        return False
    opaque = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == opaque:
            return True
    return False


def _script_safe_json(value: Any) -> str:
    """Encode ``value`` as JSON that can sit inside an HTML ``<script>`` element.

    Threat: a title, URL or parameter containing ``</script>`` or ``<!--`` would end the script
    element early and let the rest of the string run as markup or script (XSS). Escaping ``<``,
    ``>`` and ``&`` as ``\\u`` sequences keeps the JSON identical once parsed, but leaves no
    character the HTML parser reacts to. ``ensure_ascii`` also escapes U+2028/U+2029.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def swagger_ui_html(
    *,
    openapi_url: str,
    title: str,
    assets_url: str,
    oauth2_redirect_url: str | None = None,
    init_oauth: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
) -> str:
    """Return the Swagger UI page for the schema at ``openapi_url``.

    ``assets_url`` is where the app serves :data:`ASSET_NAMES` (no trailing slash).
    ``oauth2_redirect_url`` is usually ``f"{assets_url}/oauth2-redirect.html"``; a path is made
    absolute in the browser. ``init_oauth`` is passed to ``ui.initOAuth`` and ``parameters``
    override or extend the ``SwaggerUIBundle`` configuration.
    """
    config: dict[str, Any] = {
        "url": openapi_url,
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        "showExtensions": True,
        "showCommonExtensions": True,
        # Off by default: a persisted token sits in localStorage, where any script injected
        # into this origin could read it. Opt in with parameters={"persistAuthorization": True}.
        "persistAuthorization": False,
        # The default renders a badge image fetched from validator.swagger.io (and sends it the
        # schema URL): a request to the internet, which an offline page must not make.
        "validatorUrl": None,
    }
    if oauth2_redirect_url is not None:
        config["oauth2RedirectUrl"] = oauth2_redirect_url
    config.update(parameters or {})
    settings = _script_safe_json({"config": config, "initOAuth": init_oauth})
    assets = _attr(assets_url)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script id="{_SWAGGER_CONFIG_ID}" type="application/json">{settings}</script>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-ui-init.js"></script>
</body>
</html>
"""


def redoc_html(*, openapi_url: str, title: str, assets_url: str) -> str:
    """Return the ReDoc page for the schema at ``openapi_url``.

    No web fonts are linked (they would come from the internet): ReDoc falls back to the
    browser's sans-serif and monospace fonts.
    """
    assets = _attr(assets_url)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<redoc spec-url="{_attr(openapi_url)}"></redoc>
<script src="{assets}/redoc.standalone.js"></script>
</body>
</html>
"""


def swagger_ui_oauth2_redirect_html(*, assets_url: str) -> str:
    """Return Swagger UI's OAuth2 redirect page, for serving at any URL (``oauth2_redirect_url``).

    The vendored ``oauth2-redirect.html`` loads ``oauth2-redirect.js`` by a relative URL, so it
    works only when served from ``assets_url`` itself. This page names the script absolutely.
    """
    # The page's URL carries the OAuth authorization code or token; no-referrer keeps it out of
    # the Referer header of the script request (and of anything a browser extension adds).
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>Swagger UI: OAuth2 redirect</title>
</head>
<body>
<script src="{_attr(assets_url)}/oauth2-redirect.js"></script>
</body>
</html>
"""
