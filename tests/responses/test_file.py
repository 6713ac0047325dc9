from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from prow.background import BackgroundTask
from prow.responses import FileResponse
from prow.types import Message, Receive, Scope, Send

CONTENT = b"0123456789abcdefghij"  # 20 bytes
TEN = CONTENT[:10]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.txt"
    path.write_bytes(CONTENT)
    return path


def client_for(path: Path, **kwargs: Any) -> httpx.AsyncClient:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await FileResponse(path, **kwargs)(scope, receive, send)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.anyio
async def test_full_get_sends_validators(sample: Path) -> None:
    async with client_for(sample) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["content-length"] == "20"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["accept-ranges"] == "bytes"
    st = os.stat(sample)
    assert response.headers["etag"] == f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    modified = datetime.fromtimestamp(st.st_mtime, tz=UTC)
    assert response.headers["last-modified"] == format_datetime(modified, usegmt=True)
    assert "content-disposition" not in response.headers


@pytest.mark.anyio
async def test_head_has_headers_only(sample: Path) -> None:
    async with client_for(sample) as client:
        response = await client.head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "20"
    assert "etag" in response.headers


@pytest.mark.anyio
@pytest.mark.parametrize("template", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
async def test_if_none_match_gives_304(sample: Path, template: str) -> None:
    async with client_for(sample) as client:
        etag = (await client.head("/")).headers["etag"]
        response = await client.get("/", headers={"if-none-match": template.format(etag=etag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert "content-length" not in response.headers
    assert "content-type" not in response.headers


@pytest.mark.anyio
async def test_if_none_match_mismatch_sends_file(sample: Path) -> None:
    async with client_for(sample) as client:
        response = await client.get("/", headers={"if-none-match": '"nope"'})
    assert response.status_code == 200
    assert response.content == CONTENT


@pytest.mark.anyio
async def test_if_modified_since(sample: Path) -> None:
    async with client_for(sample) as client:
        last_modified = (await client.head("/")).headers["last-modified"]
        same = await client.get("/", headers={"if-modified-since": last_modified})
        older = await client.get(
            "/", headers={"if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"}
        )
        garbage = await client.get("/", headers={"if-modified-since": "yesterday-ish"})
    assert same.status_code == 304
    assert older.status_code == 200
    assert garbage.status_code == 200


@pytest.mark.anyio
async def test_if_none_match_takes_precedence_over_date(sample: Path) -> None:
    async with client_for(sample) as client:
        last_modified = (await client.head("/")).headers["last-modified"]
        response = await client.get(
            "/", headers={"if-none-match": '"stale"', "if-modified-since": last_modified}
        )
    assert response.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("header", "content_range", "body"),
    [
        ("bytes=0-4", "bytes 0-4/20", CONTENT[0:5]),
        ("bytes=15-", "bytes 15-19/20", CONTENT[15:]),
        ("bytes=-3", "bytes 17-19/20", CONTENT[-3:]),
        ("bytes=-100", "bytes 0-19/20", CONTENT),
        ("bytes=10-999", "bytes 10-19/20", CONTENT[10:]),
        ("bytes=0-3,2-6", "bytes 0-6/20", CONTENT[0:7]),  # overlapping ranges are merged
    ],
)
async def test_single_range(sample: Path, header: str, content_range: str, body: bytes) -> None:
    async with client_for(sample) as client:
        response = await client.get("/", headers={"range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == content_range
    assert response.headers["content-length"] == str(len(body))
    assert response.content == body


@pytest.mark.anyio
async def test_head_with_range_sends_no_body(sample: Path) -> None:
    async with client_for(sample) as client:
        response = await client.head("/", headers={"range": "bytes=0-4"})
    assert response.status_code == 206
    assert response.headers["content-length"] == "5"
    assert response.content == b""


@pytest.mark.anyio
async def test_multiple_ranges_are_multipart(sample: Path) -> None:
    async with client_for(sample, chunk_size=2) as client:
        response = await client.get("/", headers={"range": "bytes=12-13, 0-1"})
    assert response.status_code == 206
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("boundary=")[1].encode()
    assert response.headers["content-length"] == str(len(response.content))
    expected = (
        b"--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/20\r\n\r\n"
        b"01\r\n"
        b"--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 12-13/20\r\n\r\n"
        b"cd\r\n"
        b"--%s--\r\n"
    ) % (boundary, boundary, boundary)
    assert response.content == expected


@pytest.mark.anyio
@pytest.mark.parametrize("header", ["bytes=20-", "bytes=50-60", "bytes=-0", "bytes=30-,40-"])
async def test_unsatisfiable_range_is_416(sample: Path, header: str) -> None:
    async with client_for(sample) as client:
        response = await client.get("/", headers={"range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */20"
    assert response.content == b""


@pytest.mark.anyio
@pytest.mark.parametrize("header", ["items=0-1", "bytes=5-2", "bytes=abc", "bytes=-", "bytes"])
async def test_malformed_range_is_ignored(sample: Path, header: str) -> None:
    async with client_for(sample) as client:
        response = await client.get("/", headers={"range": header})
    assert response.status_code == 200
    assert response.content == CONTENT


@pytest.mark.anyio
async def test_too_many_ranges_sends_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(range(256)))

    def spread(count: int) -> str:  # ranges that cannot merge: 0-0, 2-2, 4-4...
        return "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 2 * count, 2))

    async with client_for(path) as client:
        sixteen = await client.get("/", headers={"range": spread(16)})
        seventeen = await client.get("/", headers={"range": spread(17)})
    assert sixteen.status_code == 206
    assert seventeen.status_code == 200
    assert seventeen.content == bytes(range(256))


@pytest.mark.anyio
async def test_if_range(sample: Path) -> None:
    async with client_for(sample) as client:
        head = await client.head("/")
        etag, last_modified = head.headers["etag"], head.headers["last-modified"]
        matching = await client.get("/", headers={"range": "bytes=0-1", "if-range": etag})
        by_date = await client.get("/", headers={"range": "bytes=0-1", "if-range": last_modified})
        changed = await client.get("/", headers={"range": "bytes=0-1", "if-range": '"old"'})
        weak = await client.get("/", headers={"range": "bytes=0-1", "if-range": f"W/{etag}"})
        old_date = await client.get(
            "/", headers={"range": "bytes=0-1", "if-range": "Mon, 01 Jan 2001 00:00:00 GMT"}
        )
    assert (matching.status_code, matching.content) == (206, b"01")
    assert by_date.status_code == 206
    for response in (changed, weak, old_date):
        assert response.status_code == 200
        assert response.content == CONTENT


@pytest.mark.anyio
async def test_if_match_and_if_unmodified_since(sample: Path) -> None:
    async with client_for(sample) as client:
        etag = (await client.head("/")).headers["etag"]
        ok = await client.get("/", headers={"if-match": etag})
        failed = await client.get("/", headers={"if-match": '"other"'})
        old = await client.get(
            "/", headers={"if-unmodified-since": "Mon, 01 Jan 2001 00:00:00 GMT"}
        )
    assert ok.status_code == 200
    assert failed.status_code == 412
    assert failed.content == b""
    assert old.status_code == 412


@pytest.mark.anyio
async def test_ascii_filename_disposition(sample: Path) -> None:
    async with client_for(sample, filename="report.csv") as client:
        response = await client.get("/")
    assert response.headers["content-disposition"] == 'attachment; filename="report.csv"'
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


@pytest.mark.anyio
async def test_non_ascii_filename_disposition(sample: Path) -> None:
    async with client_for(
        sample, filename='résumé "final".pdf', content_disposition_type="inline"
    ) as client:
        response = await client.get("/")
    assert response.headers["content-disposition"] == (
        'inline; filename="r_sum_ _final_.pdf"; '
        "filename*=utf-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
    )
    assert response.headers["content-type"] == "application/pdf"


def test_header_injection_in_filename_is_neutralised(sample: Path) -> None:
    response = FileResponse(sample, filename="a\r\nSet-Cookie: x=1")
    value = response.headers["content-disposition"]
    assert "\r" not in value
    assert "\n" not in value


def test_bad_disposition_type_is_rejected(sample: Path) -> None:
    with pytest.raises(ValueError, match="attachment"):
        FileResponse(sample, content_disposition_type="evil; x=1")


@pytest.mark.anyio
async def test_unknown_extension_is_octet_stream(tmp_path: Path) -> None:
    path = tmp_path / "blob.unknownext"
    path.write_bytes(b"\x00\x01")
    async with client_for(path) as client:
        response = await client.get("/")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == b"\x00\x01"


@pytest.mark.anyio
async def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    async with client_for(path) as client:
        full = await client.get("/")
        ranged = await client.get("/", headers={"range": "bytes=0-"})
    assert (full.status_code, full.content, full.headers["content-length"]) == (200, b"", "0")
    assert ranged.status_code == 416


@pytest.mark.anyio
async def test_non_200_status_ignores_conditionals(sample: Path) -> None:
    async with client_for(sample, status_code=404) as client:
        response = await client.get("/", headers={"if-none-match": "*", "range": "bytes=0-1"})
    assert response.status_code == 404
    assert response.content == CONTENT


async def _run(response: FileResponse, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await response(scope, receive, send)
    return sent


def _scope(method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {"type": "http", "method": method, "path": "/", "headers": headers or []}


@pytest.mark.anyio
async def test_chunks_and_stat_result_reuse(sample: Path) -> None:
    response = FileResponse(sample, chunk_size=8, stat_result=os.stat(sample))
    sent = await _run(response, _scope())
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert [m["body"] for m in bodies] == [CONTENT[0:8], CONTENT[8:16], CONTENT[16:]]
    assert [m["more_body"] for m in bodies] == [True, True, False]


@pytest.mark.anyio
async def test_missing_file_raises_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(RuntimeError, match=r"nope\.txt"):
        await _run(FileResponse(missing), _scope())


@pytest.mark.anyio
async def test_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not a regular file"):
        await _run(FileResponse(tmp_path), _scope())


@pytest.mark.anyio
async def test_background_runs(sample: Path) -> None:
    ran: list[bool] = []
    response = FileResponse(sample, background=BackgroundTask(ran.append, True))
    await _run(response, _scope())
    assert ran == [True]


async def _served_ranges(path: Path, header: str) -> list[str] | None:
    """The byte ranges a ``Range: header`` request is answered with: [] for 416, None for 200."""
    async with client_for(path) as client:
        response = await client.get("/", headers={"range": header})
    if response.status_code == 200:
        assert response.content == TEN
        return None
    if response.status_code == 416:
        return []
    assert response.status_code == 206
    if "content-range" in response.headers:
        return [response.headers["content-range"].removeprefix("bytes ")]
    return re.findall(r"Content-Range: bytes (\S+)", response.text)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("header", "served"),
    [
        ("bytes=0-0", ["0-0/10"]),
        ("bytes=0-1, 3-4", ["0-1/10", "3-4/10"]),
        ("bytes=3-4,0-1", ["0-1/10", "3-4/10"]),
        ("bytes=0-1,2-3", ["0-3/10"]),  # adjacent ranges merge
        ("BYTES = 2-3", ["2-3/10"]),
        ("bytes=10-", []),
        ("bytes=9-,10-", ["9-9/10"]),
        ("bytes=0-" + "9" * 30, None),
        ("bytes=,", None),
        ("bytes=1-2-3", None),
    ],
)
async def test_range_headers_are_parsed_sorted_and_merged(
    tmp_path: Path, header: str, served: list[str] | None
) -> None:
    path = tmp_path / "ten.txt"
    path.write_bytes(TEN)
    assert await _served_ranges(path, header) == served
