"""Strawberry's HTTP and websocket protocol handling, fed prow's requests and responses.

Strawberry ships the GraphQL-over-HTTP rules (GET and POST, JSON and multipart bodies,
batches, which operations GET may run) and both websocket protocols (graphql-transport-ws and
the older graphql-ws) as ``AsyncBaseHTTPView``; each of its framework integrations adapts that
view to the framework's request and response objects. This module is prow's adapter: the
protocol code is Strawberry's, none is written here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from typing import Any, TypeGuard

import pydantic_core
from cross_web import AsyncHTTPRequestAdapter, FormData, HTTPException
from strawberry.http.async_base_view import AsyncBaseHTTPView, AsyncWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, WebSocketDisconnected
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from prow._exceptions import WebSocketDisconnect
from prow._request import Request
from prow._websocket import WebSocket, WebSocketState
from prow.graphql._context import GraphQLContext
from prow.responses import HTMLResponse, Response

__all__ = ["ProwView"]


def _outages() -> tuple[type[BaseException], ...]:
    from prow.graphql._extension import _OUTAGES

    return _OUTAGES


class _RequestAdapter(AsyncHTTPRequestAdapter):
    """A prow ``Request`` as Strawberry's view reads one."""

    def __init__(self, request: Request) -> None:
        self.request = request

    @property
    def query_params(self) -> Mapping[str, str | None]:
        return dict(self.request.query_params.items())

    @property
    def path_params(self) -> Mapping[str, Any]:
        return self.request.path_params

    @property
    def method(self) -> Any:
        return self.request.method.upper()

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers

    @property
    def content_type(self) -> str | None:
        value: str | None = self.request.headers.get("content-type")
        return value

    @property
    def url(self) -> str:
        return str(self.request.url)

    @property
    def cookies(self) -> Mapping[str, str]:
        return self.request.cookies

    async def get_body(self) -> bytes:
        return await self.request.body()

    async def get_form_data(self) -> FormData:
        form = await self.request.form()
        files = {key: value for key, value in form.multi_items() if hasattr(value, "read")}
        fields = {key: value for key, value in form.multi_items() if not hasattr(value, "read")}
        return FormData(files=files, form=fields)


class _WebSocketAdapter(AsyncWebSocketAdapter):
    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view)
        self.ws = response

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        while self.ws.client_state is not WebSocketState.DISCONNECTED:
            try:
                text = await self.ws.receive_text()
            except WebSocketDisconnect:
                return
            try:
                yield self.view.decode_json(text)
            except ValueError as exc:
                if not ignore_parsing_errors:
                    raise NonJsonMessageReceived from exc

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(pydantic_core.to_json(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)


class ProwView(AsyncBaseHTTPView[Request, Response, Response, WebSocket, WebSocket, Any, Any]):
    """Strawberry's view over prow's ``Request`` and ``WebSocket``."""

    request_adapter_class = _RequestAdapter
    websocket_adapter_class = _WebSocketAdapter

    def __init__(
        self,
        schema: BaseSchema,
        *,
        ide_html: str | None,
        allow_queries_via_get: bool = True,
        connection_init_wait_timeout: timedelta = timedelta(minutes=1),
    ) -> None:
        self.schema = schema
        self._ide_html = ide_html
        self.graphql_ide = "graphiql" if ide_html is not None else None
        self._allow_get = allow_queries_via_get
        self.protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL)
        self.connection_init_wait_timeout = connection_init_wait_timeout

    @property
    def allow_queries_via_get(self) -> bool:
        return self._allow_get

    def encode_json(self, data: object) -> bytes:
        return pydantic_core.to_json(data)

    def decode_json(self, data: str | bytes) -> object:
        return pydantic_core.from_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except ValueError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None

    async def get_sub_response(self, request: Request) -> Response:
        return Response(status_code=200)

    async def get_context(self, request: Any, response: Any) -> Any:  # pragma: no cover
        return GraphQLContext(request, None)  # the routes always pass theirs

    async def get_root_value(self, request: Any) -> Any:
        return None

    def _handle_errors(self, errors: list[Any], response_data: Any) -> None:
        # The database being unreachable is answered as REST answers it: 503 with
        # Retry-After (prow.db's handlers), which clients and load balancers understand,
        # rather than a 200 whose data is null.
        for error in errors:
            original = getattr(error, "original_error", None)
            if isinstance(original, _outages()):
                raise original

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code,
            media_type="application/json",
        )
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        from prow.graphql._vendor import GRAPHIQL_CSP

        assert self._ide_html is not None
        headers = {"Content-Security-Policy": GRAPHIQL_CSP, "Cache-Control": "no-store"}
        return HTMLResponse(self._ide_html, headers=headers)

    def is_websocket_request(self, request: Any) -> TypeGuard[WebSocket]:
        return isinstance(request, WebSocket)

    async def pick_websocket_subprotocol(self, request: WebSocket) -> str | None:
        offered = request.scope.get("subprotocols") or []
        for protocol in offered:
            if protocol in self.protocols:
                return str(protocol)
        return None

    async def create_websocket_response(
        self, request: WebSocket, subprotocol: str | None
    ) -> WebSocket:
        await request.accept(subprotocol=subprotocol)
        return request

    def get_websocket_headers(self, request: WebSocket) -> Mapping[str, str]:
        return request.headers

    async def reject_websocket(self, request: WebSocket) -> WebSocket:
        await request.close(1008)
        return request
