from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pydantic
import pytest

from prow import FormData, Request, UploadFile
from prow.datastructures import Headers
from prow.exceptions import HTTPError
from prow.types import Message

MULTIPART_B = Headers({"content-type": "multipart/form-data; boundary=B"})
URLENCODED = Headers({"content-type": "application/x-www-form-urlencoded"})


def encode(data: Any = None, files: Any = None) -> tuple[Headers, bytes]:
    """Let httpx build a real multipart (or urlencoded) body and its headers."""
    request = httpx.Request("POST", "http://testserver", data=data, files=files)
    body = request.read()
    return Headers(raw=[(k.lower(), v) for k, v in request.headers.raw]), body


async def parse_form(headers: Headers, chunks: AsyncIterator[bytes], **limits: int) -> FormData:
    """``request.form(**limits)`` of a request with ``headers`` whose body arrives as ``chunks``."""

    async def receive() -> Message:
        async for chunk in chunks:
            return {"type": "http.request", "body": chunk, "more_body": True}
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers.raw}
    return await Request(scope, receive).form(**limits)


async def chunked(body: bytes, size: int | None = None) -> AsyncIterator[bytes]:
    size = size or max(len(body), 1)
    for start in range(0, len(body), size):
        yield body[start : start + size]


def part(disposition: str, value: bytes, *extra: str) -> bytes:
    head = "\r\n".join([f"Content-Disposition: form-data; {disposition}", *extra])
    return b"--B\r\n" + head.encode() + b"\r\n\r\n" + value + b"\r\n"


def multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--B--\r\n"


async def expect_error(headers: Headers, body: bytes, **limits: int) -> HTTPError:
    with pytest.raises(HTTPError) as info:
        await parse_form(headers, chunked(body), **limits)
    return info.value


@pytest.fixture
def created_files(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every spooled file the form parser creates, to check that none is left open."""
    files: list[Any] = []

    class Recorded(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            files.append(self)

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", Recorded)
    return files


# --- content types -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_form_media_types_in_any_case_and_with_parameters() -> None:
    urlencoded = Headers({"content-type": "Application/X-WWW-Form-Urlencoded; charset=utf-8"})
    assert (await parse_form(urlencoded, chunked(b"a=1")))["a"] == "1"
    multipart_b = Headers({"content-type": "Multipart/Form-Data; boundary=B"})
    assert (await parse_form(multipart_b, chunked(multipart(part('name="a"', b"1")))))["a"] == "1"
    mixed = Headers({"content-type": "multipart/mixed; boundary=B"})
    assert (await expect_error(mixed, multipart(part('name="a"', b"1")))).status == 415


@pytest.mark.anyio
@pytest.mark.parametrize("content_type", ["application/json", "text/plain; charset=utf-8"])
async def test_unsupported_content_type_is_415_listing_supported(content_type: str) -> None:
    error = await expect_error(Headers({"content-type": content_type}), b"{}")
    assert error.status == 415
    assert content_type.split(";", maxsplit=1)[0] in error.detail
    assert "application/x-www-form-urlencoded" in error.detail
    assert "multipart/form-data" in error.detail


@pytest.mark.anyio
async def test_missing_content_type_is_415() -> None:
    error = await expect_error(Headers(), b"a=1")
    assert error.status == 415
    assert "without a Content-Type" in error.detail


# --- multipart ---------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("chunk_size", [1, 7, None])
async def test_multipart_fields_and_files_in_any_chunking(chunk_size: int | None) -> None:
    headers, body = encode(
        data={"name": "Zoë ☃", "tag": ["a", "b"]},
        files=[
            ("doc", ("naïve.txt", b"hello\r\n--not a boundary\r\n", "text/plain")),
            ("doc", ("second.bin", bytes(range(256)) * 4, "application/octet-stream")),
            ("empty", ("empty.txt", b"", "text/plain")),
        ],
    )
    form = await parse_form(headers, chunked(body, chunk_size))
    try:
        assert form["name"] == "Zoë ☃"
        assert form.getlist("tag") == ["a", "b"]
        first, second = form.getlist("doc")
        assert isinstance(first, UploadFile)
        assert isinstance(second, UploadFile)
        assert first.filename == "naïve.txt"
        assert first.content_type == "text/plain"
        assert first.headers["content-type"] == "text/plain"
        assert "naïve.txt".encode() in first.headers["content-disposition"].encode("latin-1")
        assert first.size == 25
        assert await first.read() == b"hello\r\n--not a boundary\r\n"
        assert await second.read() == bytes(range(256)) * 4
        assert second.size == 1024
        empty = form["empty"]
        assert isinstance(empty, UploadFile)
        assert empty.size == 0
        assert await empty.read() == b""
    finally:
        await form.close()
    assert first.file.closed
    assert second.file.closed


@pytest.mark.anyio
async def test_empty_field_and_field_without_filename_is_a_string() -> None:
    body = multipart(part('name="a"', b""), part('name="b"', b"x"))
    form = await parse_form(MULTIPART_B, chunked(body))
    assert form.multi_items() == [("a", ""), ("b", "x")]


@pytest.mark.anyio
async def test_part_charset_decodes_field() -> None:
    body = multipart(
        part('name="latin"', "café".encode("latin-1"), "Content-Type: text/plain; charset=latin-1")
    )
    form = await parse_form(MULTIPART_B, chunked(body))
    assert form["latin"] == "café"


@pytest.mark.anyio
async def test_rfc5987_filename_star_wins() -> None:
    disposition = 'name="f"; filename="fallback.txt"; filename*=UTF-8\'\'%E2%82%AC%20rates.txt'
    body = multipart(part(disposition, b"data"))
    form = await parse_form(MULTIPART_B, chunked(body, 3))
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert upload.filename == "€ rates.txt"
    assert await upload.read() == b"data"
    await form.close()


@pytest.mark.anyio
async def test_empty_filename_is_still_a_file() -> None:
    # What a browser sends for a file input left empty.
    body = multipart(part('name="f"; filename=""', b"", "Content-Type: application/octet-stream"))
    form = await parse_form(MULTIPART_B, chunked(body))
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert upload.filename == ""
    assert upload.size == 0
    await form.close()


@pytest.mark.anyio
@pytest.mark.parametrize("body", [b"", b"--B--\r\n"])
async def test_empty_multipart_body_is_empty_form(body: bytes) -> None:
    form = await parse_form(MULTIPART_B, chunked(body))
    assert len(form) == 0


@pytest.mark.anyio
@pytest.mark.parametrize("chunk_size", [1, 4096])
async def test_large_file_rolls_to_disk_and_reads_back(
    chunk_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Against a 1 KiB spool: 10 KiB fed byte by byte, or 300 KiB (several write batches).
    content = bytes(range(256)) * (40 if chunk_size == 1 else 1200)
    headers, body = encode(files={"f": ("big.bin", content, "application/octet-stream")})
    threaded: list[object] = []
    real_run_sync = anyio.to_thread.run_sync

    async def counting_run_sync(func: Callable[..., Any], *args: Any) -> Any:
        threaded.append(func)
        return await real_run_sync(func, *args)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting_run_sync)
    form = await parse_form(headers, chunked(body, chunk_size), spool_max_size=1024)
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert upload.file._rolled  # type: ignore[attr-defined]
    assert upload.size == len(content)
    assert threaded, "disk writes must run in a worker thread"
    assert await upload.read(10) == content[:10]
    assert await upload.read() == content[10:]
    await upload.seek(0)
    assert await upload.read() == content
    await form.close()
    assert upload.file.closed


@pytest.mark.anyio
async def test_file_data_is_written_while_the_body_streams(created_files: list[Any]) -> None:
    content = b"s" * (300 * 1024)
    headers, body = encode(files={"f": ("f.bin", content, "application/octet-stream")})
    written: list[int] = []

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]
            written.append(created_files[0].tell() if created_files else 0)

    form = await parse_form(headers, stream())
    # Before the body ended, all but the last unflushed batch was already in the file.
    assert written[-1] >= len(content) - 64 * 1024 - 8192
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert await upload.read() == content
    await form.close()


@pytest.mark.anyio
async def test_small_file_stays_in_memory_without_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_threads(*args: Any) -> Any:
        raise AssertionError("in-memory file operations must not use a thread")

    monkeypatch.setattr(anyio.to_thread, "run_sync", no_threads)
    headers, body = encode(files={"f": ("s.txt", b"small", "text/plain")})
    form = await parse_form(headers, chunked(body, 7))
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert not upload.file._rolled  # type: ignore[attr-defined]
    assert await upload.read() == b"small"
    await form.close()


# --- multipart limits and errors ---------------------------------------------------------


@pytest.mark.anyio
async def test_too_many_files_is_413_naming_limit(created_files: list[Any]) -> None:
    headers, body = encode(files=[("f", (f"{i}.txt", b"x", "text/plain")) for i in range(3)])
    error = await expect_error(headers, body, max_files=2)
    assert error.status == 413
    assert "max_files=2" in error.detail
    assert len(created_files) == 2
    assert all(f.closed for f in created_files)


@pytest.mark.anyio
async def test_too_many_multipart_fields_is_413_naming_limit() -> None:
    headers, body = encode(data={"a": "1", "b": "2", "c": "3"})
    error = await expect_error(headers, body, max_fields=2)
    assert error.status == 413
    assert "max_fields=2" in error.detail


@pytest.mark.anyio
async def test_limits_at_exactly_the_maximum_pass() -> None:
    headers, body = encode(data={"a": "1", "b": "22"}, files={"f": ("f", b"x" * 50, "text/plain")})
    form = await parse_form(headers, chunked(body), max_fields=2, max_files=1, max_part_size=2)
    assert form["b"] == "22"
    await form.close()


@pytest.mark.anyio
async def test_oversized_field_is_413_naming_field(created_files: list[Any]) -> None:
    headers, body = encode(
        data={"bio": "x" * 100}, files={"f": ("f.txt", b"y" * 500, "text/plain")}
    )
    # Files are not held in memory, so max_part_size does not apply to them...
    error = await expect_error(headers, body, max_part_size=50)
    assert error.status == 413
    assert "'bio'" in error.detail
    assert "max_part_size=50" in error.detail
    # ...and any file created before the failure is closed.
    assert all(f.closed for f in created_files)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data;"],
)
async def test_missing_boundary_is_400(content_type: str) -> None:
    error = await expect_error(Headers({"content-type": content_type}), b"--B--\r\n")
    assert error.status == 400
    assert "boundary" in error.detail


@pytest.mark.anyio
async def test_overlong_boundary_is_400() -> None:
    headers = Headers({"content-type": "multipart/form-data; boundary=" + "b" * 300})
    error = await expect_error(headers, b"")
    assert error.status == 400
    assert "boundary" in error.detail


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        b"not multipart at all",
        b"--B\r\nbad header line\r\n\r\nv\r\n--B--\r\n",
        b'--X\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--X--\r\n',
    ],
)
async def test_malformed_multipart_is_400(body: bytes) -> None:
    error = await expect_error(MULTIPART_B, body)
    assert error.status == 400
    assert "Malformed multipart body" in error.detail


@pytest.mark.anyio
async def test_truncated_multipart_is_400_and_closes_files(created_files: list[Any]) -> None:
    headers, body = encode(files={"f": ("f.txt", b"z" * 5000, "text/plain")})
    error = await expect_error(headers, body[:-100], spool_max_size=1000)
    assert error.status == 400
    assert "closing boundary" in error.detail
    assert len(created_files) == 1
    assert created_files[0].closed


@pytest.mark.anyio
@pytest.mark.parametrize(
    "disposition_line",
    ["Content-Disposition: form-data", 'Content-Disposition: attachment; name="a"', ""],
)
async def test_part_without_form_data_name_is_400(disposition_line: str) -> None:
    head = disposition_line or "Content-Type: text/plain"
    body = b"--B\r\n" + head.encode() + b"\r\n\r\nv\r\n--B--\r\n"
    error = await expect_error(MULTIPART_B, body)
    assert error.status == 400
    assert "Content-Disposition" in error.detail


@pytest.mark.anyio
async def test_undecodable_multipart_field_is_400_naming_field() -> None:
    error = await expect_error(MULTIPART_B, multipart(part('name="bad"', b"\xff\xfe")))
    assert error.status == 400
    assert "'bad'" in error.detail
    assert "utf-8" in error.detail


@pytest.mark.anyio
async def test_unknown_part_charset_is_400() -> None:
    body = multipart(part('name="a"', b"v", "Content-Type: text/plain; charset=klingon"))
    error = await expect_error(MULTIPART_B, body)
    assert error.status == 400
    assert "klingon" in error.detail


@pytest.mark.anyio
async def test_undecodable_filename_is_400_and_leaves_no_file_open(
    created_files: list[Any],
) -> None:
    bad = b'--B\r\nContent-Disposition: form-data; name="f"; filename="\xff.txt"\r\n\r\nx\r\n'
    body = multipart(part('name="ok"; filename="ok.txt"', b"fine"), bad)
    error = await expect_error(MULTIPART_B, body)
    assert error.status == 400
    assert "file name" in error.detail
    assert len(created_files) == 1
    assert created_files[0].closed


@pytest.mark.anyio
async def test_cancellation_closes_files(created_files: list[Any]) -> None:
    headers, body = encode(files={"f": ("f.txt", b"q" * 100, "text/plain")})

    async def stalls() -> AsyncIterator[bytes]:
        yield body[:-20]
        await anyio.sleep_forever()
        yield b""  # pragma: no cover

    with anyio.move_on_after(0.05):
        await parse_form(headers, stalls())
    assert len(created_files) == 1
    assert created_files[0].closed


# --- urlencoded --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("chunk_size", [1, 7, None])
async def test_urlencoded_repeated_keys_and_unicode(chunk_size: int | None) -> None:
    body = b"a=1&a=%C3%A9t%C3%A9&b=x+y%2Bz&&empty=&flag&%E2%98%83=snow&=anon"
    form = await parse_form(URLENCODED, chunked(body, chunk_size))
    assert form.getlist("a") == ["1", "été"]
    assert form["a"] == "été"
    assert form["b"] == "x y+z"
    assert form["empty"] == ""
    assert form["flag"] == ""
    assert form["☃"] == "snow"
    assert form[""] == "anon"
    assert len(form.multi_items()) == 7


@pytest.mark.anyio
async def test_urlencoded_matches_httpx_encoder() -> None:
    headers, body = encode(data={"q": "ünï cödé & more=", "n": ["1", "2"]})
    form = await parse_form(headers, chunked(body, 5))
    assert form["q"] == "ünï cödé & more="
    assert form.getlist("n") == ["1", "2"]


@pytest.mark.anyio
async def test_urlencoded_charset_parameter() -> None:
    headers = Headers({"content-type": "application/x-www-form-urlencoded; charset=latin-1"})
    form = await parse_form(headers, chunked(b"caf%E9=cr%E8me"))
    assert form["café"] == "crème"


@pytest.mark.anyio
async def test_urlencoded_unknown_charset_is_400() -> None:
    headers = Headers({"content-type": "application/x-www-form-urlencoded; charset=klingon"})
    error = await expect_error(headers, b"a=1")
    assert error.status == 400
    assert "klingon" in error.detail


@pytest.mark.anyio
async def test_urlencoded_oversized_name_is_413() -> None:
    error = await expect_error(URLENCODED, b"%C3%A9" * 20 + b"=1", max_part_size=50)
    assert error.status == 413
    assert "max_part_size=50" in error.detail


@pytest.mark.anyio
async def test_urlencoded_empty_body() -> None:
    assert len(await parse_form(URLENCODED, chunked(b""))) == 0


@pytest.mark.anyio
async def test_urlencoded_undecodable_is_400_naming_field() -> None:
    error = await expect_error(URLENCODED, b"name=%FF%FE")
    assert error.status == 400
    assert "'name'" in error.detail


@pytest.mark.anyio
async def test_urlencoded_too_many_fields_is_413() -> None:
    error = await expect_error(URLENCODED, b"a=1&b=2&c=3", max_fields=2)
    assert error.status == 413
    assert "max_fields=2" in error.detail


@pytest.mark.anyio
async def test_urlencoded_oversized_field_is_413_naming_field() -> None:
    error = await expect_error(URLENCODED, b"ok=1&big=" + b"x" * 100, max_part_size=50)
    assert error.status == 413
    assert "'big'" in error.detail
    assert "max_part_size=50" in error.detail


# --- FormData ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_form_data_multidict_api_and_close() -> None:
    upload = UploadFile(filename="a.txt")
    form = FormData([("x", "1"), ("f", upload), ("x", "2")])
    assert form["x"] == "2"
    assert form.get("x") == "2"
    assert form.get("missing") is None
    assert form.get("missing", "d") == "d"
    assert form.getlist("x") == ["1", "2"]
    assert form.getlist("missing") == []
    assert form.multi_items() == [("x", "1"), ("f", upload), ("x", "2")]
    assert list(form) == ["x", "f"]
    assert len(form) == 2
    assert "f" in form
    assert "nope" not in form
    assert "FormData" in repr(form)
    with pytest.raises(KeyError):
        form["missing"]
    assert FormData({"k": "v"})["k"] == "v"
    await form.close()
    assert upload.file.closed


# --- UploadFile --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_upload_file_write_seek_read() -> None:
    upload = UploadFile(filename="n.txt", spool_max_size=8)
    assert upload.size == 0
    assert upload.content_type == "application/octet-stream"
    await upload.write(b"12345")
    assert not upload.file._rolled  # type: ignore[attr-defined]
    await upload.write(b"67890")  # crosses the spool threshold
    assert upload.file._rolled  # type: ignore[attr-defined]
    assert upload.size == 10
    await upload.seek(3)
    assert await upload.read(4) == b"4567"
    await upload.close()
    assert upload.file.closed
    assert "n.txt" in repr(upload)


@pytest.mark.anyio
async def test_upload_file_over_user_supplied_files(tmp_path: Any) -> None:
    memory = UploadFile(io.BytesIO(b"abc"), filename="m")
    assert memory.size is None
    assert await memory.read() == b"abc"
    path = tmp_path / "d.bin"
    path.write_bytes(b"disk")
    with path.open("rb") as handle:
        on_disk = UploadFile(handle, headers=Headers({"content-type": "image/png"}))
        assert on_disk.content_type == "image/png"
        assert await on_disk.read() == b"disk"
        await on_disk.close()
        assert handle.closed


def test_upload_file_as_pydantic_field() -> None:
    adapter = pydantic.TypeAdapter(UploadFile)
    upload = UploadFile(filename="x")
    assert adapter.validate_python(upload) is upload
    with pytest.raises(pydantic.ValidationError):
        adapter.validate_python("not a file")
    assert adapter.json_schema() == {"type": "string", "format": "binary"}

    class Model(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(arbitrary_types_allowed=False)
        doc: UploadFile
        docs: list[UploadFile] = []

    schema = Model.model_json_schema()
    assert schema["properties"]["doc"] == {"type": "string", "format": "binary", "title": "Doc"}
    assert schema["properties"]["docs"]["items"] == {"type": "string", "format": "binary"}
    assert Model(doc=upload).doc is upload
    upload.file.close()
