"""The routes that serve the OpenAPI document and the offline docs pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prow._request import Request
from prow._security import DOCS_CSP, REDOC_CSP
from prow.openapi._ui import (
    ASSET_CACHE_CONTROL,
    etag_matches,
    get_asset,
    redoc_html,
    swagger_ui_html,
    swagger_ui_oauth2_redirect_html,
)
from prow.responses import HTMLResponse, JSONResponse, Response

if TYPE_CHECKING:
    from prow._app import App
    from prow._routing._router import Router

__all__ = ["docs_router"]

ASSETS_PATH = "/_prow/docs-assets"


def docs_router(app: App) -> Router | None:
    """A router with ``/openapi.json``, ``/docs`` and ``/redoc`` as the app configures them."""
    from prow._routing._router import Router

    if app.openapi_url is None:
        return None
    openapi_url = app.openapi_url
    router = Router(include_in_schema=False)

    @router.get(openapi_url, name="openapi")
    async def openapi_document(request: Request) -> Response:
        return JSONResponse(request.app.openapi())

    if app.docs_url is not None:
        oauth2_redirect = app.docs_url.rstrip("/") + "/oauth2-redirect"

        @router.get(app.docs_url, name="swagger_ui")
        async def swagger_ui(request: Request) -> Response:
            root = request.scope.get("root_path", "")
            return HTMLResponse(
                swagger_ui_html(
                    openapi_url=root + openapi_url,
                    title=f"{app.title} - Swagger UI",
                    assets_url=root + ASSETS_PATH,
                    oauth2_redirect_url=root + oauth2_redirect,
                ),
                headers={"Content-Security-Policy": DOCS_CSP},
            )

        @router.get(oauth2_redirect, name="swagger_ui_oauth2_redirect")
        async def swagger_oauth2_redirect(request: Request) -> Response:
            root = request.scope.get("root_path", "")
            page = swagger_ui_oauth2_redirect_html(assets_url=root + ASSETS_PATH)
            return HTMLResponse(
                page, headers={"Cache-Control": "no-store", "Content-Security-Policy": DOCS_CSP}
            )

    if app.redoc_url is not None:

        @router.get(app.redoc_url, name="redoc")
        async def redoc(request: Request) -> Response:
            root = request.scope.get("root_path", "")
            return HTMLResponse(
                redoc_html(
                    openapi_url=root + openapi_url,
                    title=f"{app.title} - ReDoc",
                    assets_url=root + ASSETS_PATH,
                ),
                headers={"Content-Security-Policy": REDOC_CSP},
            )

    if app.docs_url is not None or app.redoc_url is not None:

        @router.get(ASSETS_PATH + "/{name}", name="docs_asset")
        async def docs_asset(name: str, request: Request) -> Response:
            return _asset_response(name, request.headers.get("if-none-match"))

    return router


def _asset_response(name: str, if_none_match: str | None) -> Response:
    asset = get_asset(name)
    if asset is None:
        from prow._exceptions import HTTPError

        raise HTTPError(404, f"no docs asset named {name!r}")
    headers = {"ETag": asset.etag, "Cache-Control": ASSET_CACHE_CONTROL}
    if etag_matches(if_none_match, asset.etag):
        return Response(status_code=304, headers=headers)
    return Response(asset.content, headers=headers, media_type=asset.media_type)
