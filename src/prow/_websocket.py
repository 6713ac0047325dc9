"""The websocket side of a connection."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pydantic_core

from prow._exceptions import WebSocketDisconnect
from prow._request import HTTPConnection
from prow._types import Message, Receive, Scope, Send

__all__ = ["WebSocket", "WebSocketState"]


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class WebSocket(HTTPConnection):
    """A websocket connection; handlers get one by annotating a parameter with ``WebSocket``."""

    __slots__ = ("_send", "client_state", "close_code", "close_reason")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope, receive)
        self._send = send
        self.client_state = WebSocketState.CONNECTING
        self.close_code: int | None = None
        self.close_reason: str | None = None

    async def accept(
        self, subprotocol: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        """Complete the handshake (reading the client's connect message first)."""
        if self.client_state is WebSocketState.CONNECTING:
            message = await self._receive_raw()
            if message["type"] != "websocket.connect":
                raise RuntimeError(f"expected websocket.connect, got {message['type']!r}")
        raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": raw})
        self.client_state = WebSocketState.CONNECTED

    async def _receive_raw(self) -> Message:
        assert self._receive is not None
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self.client_state = WebSocketState.DISCONNECTED
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
        return message

    async def receive(self) -> Message:
        """The next raw ASGI message."""
        if self.client_state is not WebSocketState.CONNECTED:
            raise RuntimeError("the websocket is not connected; call accept() first")
        return await self._receive_raw()

    async def _receive_data(self) -> Message:
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        return message

    async def receive_text(self) -> str:
        message = await self._receive_data()
        text = message.get("text")
        if text is None:
            raise WebSocketDisconnect(1003, "expected a text message")
        return str(text)

    async def receive_bytes(self) -> bytes:
        message = await self._receive_data()
        data = message.get("bytes")
        if data is None:
            raise WebSocketDisconnect(1003, "expected a binary message")
        return bytes(data)

    async def receive_json(self, mode: str = "text") -> Any:
        """The next message parsed as JSON; invalid JSON closes with 1007 (invalid data)."""
        message = await self._receive_data()
        raw = message.get("text") if mode == "text" else message.get("bytes")
        if raw is None:
            raw = message.get("bytes") if mode == "text" else message.get("text")
        try:
            return pydantic_core.from_json(raw or b"")
        except ValueError:
            await self.close(1007, "message is not valid JSON")
            raise WebSocketDisconnect(1007, "message is not valid JSON") from None

    async def iter_text(self) -> AsyncIterator[str]:
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            return

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            return

    async def iter_json(self) -> AsyncIterator[Any]:
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            return

    async def send(self, message: Message) -> None:
        if self.client_state is WebSocketState.DISCONNECTED:
            raise WebSocketDisconnect(self.close_code or 1006, "the websocket is closed")
        await self._send(message)

    async def send_text(self, data: str) -> None:
        await self.send({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        await self.send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any, mode: str = "text") -> None:
        encoded = pydantic_core.to_json(data, inf_nan_mode="null")
        if mode == "text":
            await self.send_text(encoded.decode())
        else:
            await self.send_bytes(encoded)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection (before accept this rejects the handshake)."""
        if self.client_state is WebSocketState.DISCONNECTED:
            return
        await self._send({"type": "websocket.close", "code": code, "reason": reason or ""})
        self.client_state = WebSocketState.DISCONNECTED
        self.close_code = code
        self.close_reason = reason
