from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence

import httpx
import pytest

from prow.middleware import GZipMiddleware
from prow.types import ASGIApp, Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio

BIG = b"prow compresses repetitive text well. " * 100


def body_app(
    body: bytes = BIG, headers: Sequence[tuple[bytes, bytes]] = (), status: int = 200
) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raw = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": [*raw, *headers]})
        await send({"type": "http.response.body", "body": body})

    return app


def streaming_app(chunks: Sequence[bytes], content_type: bytes = b"text/plain") -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


async def fetch(app: ASGIApp, accept: str | None = "gzip, deflate", **options: int) -> Message:
    """Run the wrapped app and return raw start headers plus the body as sent (not decoded)."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"accept-encoding", accept.encode())] if accept else [],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await GZipMiddleware(app, **options)(scope, receive, send)
    start, *bodies = sent
    return {
        "status": start["status"],
        "headers": {k.decode(): v.decode() for k, v in start["headers"]},
        "header_list": start["headers"],
        "chunks": [m["body"] for m in bodies],
        "body": b"".join(m["body"] for m in bodies),
    }


async def test_compresses_large_body_and_sets_length() -> None:
    result = await fetch(body_app())
    headers = result["headers"]
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-length"] == str(len(result["body"]))
    assert len(result["body"]) < len(BIG)
    assert gzip.decompress(result["body"]) == BIG
    assert [k for k, _ in result["header_list"]].count(b"content-length") == 1


async def test_through_httpx_client_decodes_transparently() -> None:
    transport = httpx.ASGITransport(app=GZipMiddleware(body_app()))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == BIG


async def test_small_body_is_left_alone() -> None:
    result = await fetch(body_app(b"tiny"))
    assert "content-encoding" not in result["headers"]
    assert "vary" not in result["headers"]
    assert result["body"] == b"tiny"


async def test_minimum_size_is_configurable() -> None:
    result = await fetch(body_app(b"x" * 50), minimum_size=10, compresslevel=1)
    assert result["headers"]["content-encoding"] == "gzip"
    assert gzip.decompress(result["body"]) == b"x" * 50


@pytest.mark.parametrize("accept", [None, "br, deflate", "gzip;q=0", "identity", "gzip;q=x"])
async def test_client_not_accepting_gzip_gets_plain_body(accept: str | None) -> None:
    result = await fetch(body_app(), accept=accept)
    assert "content-encoding" not in result["headers"]
    assert result["body"] == BIG


@pytest.mark.parametrize("accept", ["GZIP", "deflate, gzip;q=0.5", "x-gzip", "br ,  gzip "])
async def test_accept_encoding_variants_that_allow_gzip(accept: str) -> None:
    result = await fetch(body_app(), accept=accept)
    assert result["headers"]["content-encoding"] == "gzip"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([(b"content-encoding", b"br")], 200),
        ([(b"content-type", b"text/event-stream")], 200),
        ([(b"cache-control", b"public, no-transform")], 200),
        ([(b"content-range", b"bytes 0-9/100")], 206),
        ([], 204),
        ([], 304),
    ],
)
async def test_responses_that_must_not_be_recompressed(
    headers: list[tuple[bytes, bytes]], status: int
) -> None:
    result = await fetch(body_app(BIG, headers, status))
    assert result["headers"].get("content-encoding") in (None, "br")
    assert result["body"] == BIG


async def test_event_stream_is_not_compressed_even_when_streamed() -> None:
    result = await fetch(streaming_app([b"data: 1\n\n" * 100], b"text/event-stream"))
    assert "content-encoding" not in result["headers"]
    assert result["body"] == b"data: 1\n\n" * 100


async def test_streaming_body_is_compressed_chunk_by_chunk() -> None:
    chunks = [b"first chunk " * 10, b"second chunk " * 10, b"third"]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html"), (b"content-length", b"9999")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    result = await fetch(app)
    assert result["headers"]["content-encoding"] == "gzip"
    assert "content-length" not in result["headers"]
    assert len(result["chunks"]) == 4
    # Each chunk is flushed: decoding the stream so far yields everything sent so far.
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for sent, original in zip(result["chunks"], chunks, strict=False):
        assert decoder.decompress(sent) == original
    assert gzip.decompress(result["body"]) == b"".join(chunks)


async def test_streamed_response_through_httpx() -> None:
    chunks = [b"%d," % i * 50 for i in range(20)]
    transport = httpx.ASGITransport(app=GZipMiddleware(streaming_app(chunks)))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == b"".join(chunks)


async def test_vary_and_strong_etag_are_adjusted() -> None:
    headers = [(b"vary", b"Cookie"), (b"etag", b'"abc"')]
    result = await fetch(body_app(BIG, headers))
    assert result["headers"]["vary"] == "Cookie, Accept-Encoding"
    assert result["headers"]["etag"] == 'W/"abc"'


async def test_head_request_with_empty_body_passes_through() -> None:
    result = await fetch(body_app(b""))
    assert "content-encoding" not in result["headers"]
    assert result["body"] == b""


async def test_non_http_scopes_pass_through() -> None:
    seen = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    scope = {"type": "websocket", "headers": [(b"accept-encoding", b"gzip")]}
    await GZipMiddleware(app)(scope, None, None)  # type: ignore[arg-type]
    await GZipMiddleware(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["websocket", "lifespan"]


def test_invalid_compresslevel_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="compresslevel"):
        GZipMiddleware(body_app(), compresslevel=12)
