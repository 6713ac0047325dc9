"""A response that sends a file from disk: validators, conditional requests and byte ranges.

What the client gets depends on its request headers (``If-None-Match``, ``Range``...), so
the decisions are made when the response is sent, from ``scope["headers"]``:

1. ``If-Match`` / ``If-Unmodified-Since`` fail      -> 412, no body
2. ``If-None-Match`` / ``If-Modified-Since`` match  -> 304, no body (GET and HEAD)
3. ``Range`` (unless ``If-Range`` no longer matches) -> 206, or 416 when unsatisfiable
4. otherwise                                        -> the whole file

The ``ETag`` is *strong*: ``"<mtime in ns, hex>-<size, hex>"``, as nginx does. Any write
changes the nanosecond mtime in practice, and a strong tag is what ``If-Range`` needs
(RFC 9110 §13.1.5 allows only strong comparison there). No inode is mixed in, so servers
behind a load balancer that hold the same files agree on the tag.

Several ranges are answered with ``multipart/byteranges``; overlapping or adjacent ranges
are merged first and more than :data:`MAX_RANGES` are ignored (the whole file is sent),
since many tiny ranges are a known way to make a server do much work for little request.
"""

from __future__ import annotations

import dataclasses
import mimetypes
import os
import re
import secrets
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

import anyio
import anyio.to_thread

from prow._datastructures import Headers
from prow._security import app_headers
from prow._types import Receive, Scope, Send
from prow.background import BackgroundTask
from prow.responses._base import Response

__all__ = ["MAX_RANGES", "FileResponse", "parse_range"]

MAX_RANGES = 16
"""More (merged) ranges than this in one request are ignored and the whole file is sent."""

_RawHeaders = list[tuple[bytes, bytes]]
# 18 digits keeps int() cheap and far above any real file size; longer is treated as junk.
_RANGE_SPEC = re.compile(r"\s*(\d{0,18})\s*-\s*(\d{0,18})\s*")
_ENTITY_TAG = re.compile(r'\*|(?:W/)?"[^"]*"')
_CONTENT_HEADERS = (b"content-type", b"content-length")


@dataclasses.dataclass(slots=True, frozen=True)
class _Validators:
    size: int
    mtime: int  # whole seconds, as HTTP dates carry
    etag: str
    last_modified: str

    @classmethod
    def from_stat(cls, result: os.stat_result) -> _Validators:
        modified = datetime.fromtimestamp(result.st_mtime, tz=UTC)
        return cls(
            size=result.st_size,
            mtime=int(result.st_mtime),
            etag=f'"{result.st_mtime_ns:x}-{result.st_size:x}"',
            last_modified=format_datetime(modified, usegmt=True),
        )


@dataclasses.dataclass(slots=True)
class _Plan:
    """What to send: the status, the headers and which byte ranges of the file."""

    status: int
    headers: _RawHeaders
    ranges: list[tuple[int, int]]
    boundary: bytes | None = None
    part_type: bytes = b""


def parse_range(value: str, size: int) -> list[tuple[int, int]] | None:
    """Parse a ``Range`` header against a file of ``size`` bytes.

    Returns inclusive ``(start, end)`` pairs, sorted and merged; ``[]`` when the
    header is valid but no range can be satisfied (answer 416); ``None`` when the
    header is malformed or not in bytes, and so must be ignored (RFC 9110 §14.2).
    """
    unit, sep, specs = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    ranges: list[tuple[int, int]] = []
    seen_any = False
    for spec in specs.split(","):
        if not spec.strip():
            continue
        match = _RANGE_SPEC.fullmatch(spec)
        if match is None or match.group(0).strip() == "-":
            return None
        first, last = match.groups()
        if first and last and int(last) < int(first):
            return None
        seen_any = True
        byte_range = _satisfiable(first, last, size)
        if byte_range is not None:
            ranges.append(byte_range)
    return _merge(ranges) if seen_any else None


def _satisfiable(first: str, last: str, size: int) -> tuple[int, int] | None:
    if not first:  # "-n": the last n bytes
        length = int(last)
        return (max(size - length, 0), size - 1) if length and size else None
    start = int(first)
    if start >= size:
        return None
    return (start, min(int(last), size - 1) if last else size - 1)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _parse_http_date(value: str) -> int | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def _etag_listed(header: str, etag: str, *, weak: bool) -> bool:
    """Whether ``etag`` is in an ``If-Match``/``If-None-Match`` list (``*`` matches any)."""
    for tag in _ENTITY_TAG.findall(header):
        if tag == "*":
            return True
        if weak and tag.removeprefix("W/") == etag.removeprefix("W/"):
            return True
        if not weak and not tag.startswith("W/") and tag == etag:
            return True
    return False


def _precondition_failed(request: Headers, v: _Validators) -> bool:
    if_match = request.get("if-match")
    if if_match is not None:
        return not _etag_listed(if_match, v.etag, weak=False)
    since = request.get("if-unmodified-since")
    date = _parse_http_date(since) if since is not None else None
    return date is not None and v.mtime > date


def _not_modified(request: Headers, v: _Validators) -> bool:
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        return _etag_listed(if_none_match, v.etag, weak=True)
    since = request.get("if-modified-since")
    date = _parse_http_date(since) if since is not None else None
    return date is not None and v.mtime <= date


def _if_range_holds(value: str, v: _Validators) -> bool:
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == v.etag  # strong comparison: a weak tag never matches
    return _parse_http_date(value) == v.mtime


def _requested_ranges(request: Headers, v: _Validators) -> list[tuple[int, int]] | None:
    header = request.get("range")
    if header is None:
        return None
    if_range = request.get("if-range")
    if if_range is not None and not _if_range_holds(if_range, v):
        return None  # the file changed since the client's partial copy: send it all
    ranges = parse_range(header, v.size)
    if ranges is not None and len(ranges) > MAX_RANGES:
        return None
    return ranges


def _content_disposition(kind: str, filename: str) -> bytes:
    """``kind; filename="..."``, plus RFC 5987 ``filename*`` when the name is not plain ASCII.

    The quoted fallback replaces anything outside printable ASCII, quotes and
    backslashes with ``_``: a CR/LF there would let a filename inject headers.
    """
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    value = f'{kind}; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=utf-8''{quote(filename, safe='')}"
    return value.encode("latin-1")


def _header(raw: _RawHeaders, name: bytes) -> bytes | None:
    return next((v for k, v in raw if k == name), None)


def _without(raw: _RawHeaders, names: tuple[bytes, ...]) -> _RawHeaders:
    return [(k, v) for k, v in raw if k not in names]


class FileResponse(Response):
    """Send the file at ``path``, in chunks read in a worker thread.

    The media type is guessed from ``filename`` (or the path); ``filename`` also adds a
    ``Content-Disposition`` of ``content_disposition_type`` ("attachment" or "inline").
    The file is stat'ed once, when sent, unless ``stat_result`` is given. A missing
    file raises :class:`RuntimeError` naming the path.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        content_disposition_type: str = "attachment",
        chunk_size: int = 64 * 1024,
    ) -> None:
        if content_disposition_type not in ("attachment", "inline"):
            raise ValueError("content_disposition_type must be 'attachment' or 'inline'")
        self.path = os.fspath(path)
        self.status_code = status_code
        self.filename = filename
        self.media_type = media_type or _guess_type(filename or self.path)
        self.background = background
        self.stat_result = stat_result
        self.chunk_size = chunk_size
        # No ``self.body``: Content-Length depends on the request and is added when sent.
        self.raw_headers = self._build_headers(headers)
        if filename is not None and _header(self.raw_headers, b"content-disposition") is None:
            disposition = _content_disposition(content_disposition_type, filename)
            self.raw_headers.append((b"content-disposition", disposition))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        validators = _Validators.from_stat(await self._stat())
        plan = self._plan(scope, validators)
        headers = app_headers(scope, plan.headers)
        await send({"type": "http.response.start", "status": plan.status, "headers": headers})
        if scope.get("method") == "HEAD" or not plan.ranges:
            await send({"type": "http.response.body", "body": b""})
        else:
            await self._send_file(send, plan, validators.size)
        if self.background is not None:
            await self.background()

    async def _stat(self) -> os.stat_result:
        if self.stat_result is None:
            try:
                self.stat_result = await anyio.to_thread.run_sync(os.stat, self.path)
            except FileNotFoundError:
                raise RuntimeError(f"File at path {self.path!r} does not exist.") from None
        if not stat.S_ISREG(self.stat_result.st_mode):
            raise RuntimeError(f"File at path {self.path!r} is not a regular file.")
        return self.stat_result

    def _plan(self, scope: Scope, v: _Validators) -> _Plan:
        """Decide status, headers and ranges from the request's conditional headers."""
        headers = [
            *self.raw_headers,
            (b"accept-ranges", b"bytes"),
            (b"etag", v.etag.encode("latin-1")),
            (b"last-modified", v.last_modified.encode("latin-1")),
        ]
        whole = [(0, v.size - 1)] if v.size else []
        if self.status_code != 200:  # e.g. a 404 page: validators would make no sense
            return _Plan(self.status_code, self._with_length(headers, v.size), whole)
        request = Headers(scope=scope)
        if _precondition_failed(request, v):
            return _Plan(412, self._with_length(_without(headers, _CONTENT_HEADERS), 0), [])
        reads = scope.get("method", "GET") in ("GET", "HEAD")
        if reads and _not_modified(request, v):
            return _Plan(304, _without(headers, _CONTENT_HEADERS), [])
        ranges = _requested_ranges(request, v) if reads else None
        if ranges is None:
            return _Plan(200, self._with_length(headers, v.size), whole)
        return self._range_plan(headers, ranges, v.size)

    def _range_plan(self, headers: _RawHeaders, ranges: list[tuple[int, int]], size: int) -> _Plan:
        if not ranges:
            unsatisfied = (b"content-range", f"bytes */{size}".encode("latin-1"))
            return _Plan(416, self._with_length([*headers, unsatisfied], 0), [])
        if len(ranges) == 1:
            return self._single_range_plan(headers, ranges[0], size)
        return self._multipart_plan(headers, ranges, size)

    @staticmethod
    def _with_length(headers: _RawHeaders, length: int) -> _RawHeaders:
        return [*_without(headers, (b"content-length",)), (b"content-length", b"%d" % length)]

    def _single_range_plan(self, headers: _RawHeaders, r: tuple[int, int], size: int) -> _Plan:
        content_range = (b"content-range", f"bytes {r[0]}-{r[1]}/{size}".encode("latin-1"))
        return _Plan(206, self._with_length([*headers, content_range], r[1] - r[0] + 1), [r])

    def _multipart_plan(
        self, headers: _RawHeaders, ranges: list[tuple[int, int]], size: int
    ) -> _Plan:
        boundary = secrets.token_hex(16).encode("ascii")
        part_type = _header(headers, b"content-type") or b"application/octet-stream"
        plan = _Plan(206, [], ranges, boundary, part_type)
        length = len(_closing(boundary)) + sum(
            len(_part_head(plan, r, size)) + (r[1] - r[0] + 1) + 2 for r in ranges
        )
        content_type = (b"content-type", b"multipart/byteranges; boundary=" + boundary)
        plan.headers = self._with_length(
            [*_without(headers, _CONTENT_HEADERS), content_type], length
        )
        return plan

    async def _send_file(self, send: Send, plan: _Plan, size: int) -> None:
        try:
            file = await anyio.open_file(self.path, "rb")
        except FileNotFoundError:
            raise RuntimeError(f"File at path {self.path!r} does not exist.") from None
        async with file:
            if plan.boundary is None:
                await self._send_range(send, file, plan.ranges[0], last=True)
                return
            for byte_range in plan.ranges:
                head = _part_head(plan, byte_range, size)
                await send({"type": "http.response.body", "body": head, "more_body": True})
                await self._send_range(send, file, byte_range, last=False)
                await send({"type": "http.response.body", "body": b"\r\n", "more_body": True})
            await send({"type": "http.response.body", "body": _closing(plan.boundary)})

    async def _send_range(
        self, send: Send, file: anyio.AsyncFile[bytes], byte_range: tuple[int, int], *, last: bool
    ) -> None:
        await file.seek(byte_range[0])
        remaining = byte_range[1] - byte_range[0] + 1
        while remaining > 0:
            chunk = await file.read(min(self.chunk_size, remaining))
            if not chunk:
                raise RuntimeError(f"File at path {self.path!r} shrank while being sent.")
            remaining -= len(chunk)
            more = not last or remaining > 0
            await send({"type": "http.response.body", "body": chunk, "more_body": more})


def _part_head(plan: _Plan, byte_range: tuple[int, int], size: int) -> bytes:
    assert plan.boundary is not None
    return b"--%s\r\nContent-Type: %s\r\nContent-Range: bytes %d-%d/%d\r\n\r\n" % (
        plan.boundary,
        plan.part_type,
        byte_range[0],
        byte_range[1],
        size,
    )


def _closing(boundary: bytes) -> bytes:
    return b"--" + boundary + b"--\r\n"


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
