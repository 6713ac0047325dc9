"""Reading HTML form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

python-multipart does the byte-level parsing; this module turns its callbacks into a
:class:`FormData` of strings and :class:`UploadFile` objects, and enforces prow's limits.

Threats this module defends against, all from an untrusted client:

- **memory exhaustion**: bodies are fed to the parser chunk by chunk as they arrive; file
  parts are written to a spooled temporary file that moves to disk past ``spool_max_size``;
  a plain field (kept in memory) may not grow past ``max_part_size``;
- **resource exhaustion by count**: at most ``max_files`` files and ``max_fields`` fields,
  so a body of millions of tiny parts cannot create millions of objects or temporary files;
- **temporary file leaks**: on any error (including cancellation) every file already created
  is closed, which deletes it from disk.

Uploaded file names are client-supplied text: never use ``UploadFile.filename`` as a path.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from io import BytesIO
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote_to_bytes

import anyio.to_thread
from python_multipart import MultipartParser, QuerystringParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartState, parse_options_header

from prow._datastructures import Headers, MultiDict
from prow._exceptions import HTTPError

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema

__all__ = ["FormData", "UploadFile", "parse_form"]

_T = TypeVar("_T")

DEFAULT_SPOOL_MAX_SIZE = 1024 * 1024
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
#: The media types a form body arrives in.
FORM_MEDIA_TYPES = (URLENCODED, MULTIPART)
_WRITE_BATCH = 64 * 1024


class UploadFile:
    """A file sent in a ``multipart/form-data`` request.

    The content lives in ``file``, by default a :class:`tempfile.SpooledTemporaryFile` that
    stays in memory up to ``spool_max_size`` bytes and moves to disk beyond. The async
    methods run in a worker thread only once the file is on disk, where IO may block.
    ``filename`` comes from the client: treat it as untrusted text, never as a path.
    """

    def __init__(
        self,
        file: IO[bytes] | None = None,
        *,
        filename: str | None = None,
        headers: Headers | None = None,
        size: int | None = None,
        spool_max_size: int = DEFAULT_SPOOL_MAX_SIZE,
    ) -> None:
        if file is None:
            file = tempfile.SpooledTemporaryFile(max_size=spool_max_size)  # noqa: SIM115
            size = 0 if size is None else size
        self.file: IO[bytes] = file
        self.filename = filename
        self.headers = headers if headers is not None else Headers()
        self.size = size

    @property
    def content_type(self) -> str:
        """The part's media type; ``application/octet-stream`` when the client sent none."""
        return str(self.headers.get("content-type", "application/octet-stream"))

    def _in_memory(self, extra: int = 0) -> bool:
        """Whether an operation adding ``extra`` bytes stays in memory (so cannot block)."""
        file = self.file
        if isinstance(file, BytesIO):
            return True
        if not isinstance(file, tempfile.SpooledTemporaryFile):
            return False
        if getattr(file, "_rolled", True):
            return False
        # A write that crosses the threshold copies everything to disk: do it off the loop.
        limit = getattr(file, "_max_size", 0)
        return not (limit and extra and file.tell() + extra > limit)

    async def _run(self, func: Callable[..., _T], *args: Any, extra: int = 0) -> _T:
        if self._in_memory(extra):
            return func(*args)
        return await anyio.to_thread.run_sync(func, *args)

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left when negative)."""
        return await self._run(self.file.read, size)

    async def write(self, data: bytes) -> None:
        """Append ``data`` at the current position and count it in ``size``."""
        if self.size is not None:
            self.size += len(data)
        await self._run(self.file.write, data, extra=len(data))

    async def seek(self, offset: int) -> None:
        """Move to byte ``offset`` from the start."""
        await self._run(self.file.seek, offset)

    async def close(self) -> None:
        """Close the file; a temporary file is deleted."""
        await self._run(self.file.close)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(filename={self.filename!r}, size={self.size!r}, "
            f"content_type={self.content_type!r})"
        )

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # Imported here so that the core never loads pydantic just to parse a form.
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(cls)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # OpenAPI 3.1 prefers contentMediaType, but Swagger UI shows a file picker only for
        # format "binary".
        return {"type": "string", "format": "binary"}


FormValue = str | UploadFile


class FormData(MultiDict[FormValue]):
    """An immutable multi-dict of form fields: strings and :class:`UploadFile` objects.

    ``form[name]`` gives the last value sent under ``name``; ``form.getlist(name)`` gives all.
    """

    __slots__ = ()

    async def close(self) -> None:
        """Close every uploaded file (deleting their temporary files)."""
        for _, value in self._list:
            if isinstance(value, UploadFile):
                await value.close()


@dataclass(frozen=True, slots=True)
class _Limits:
    max_files: int
    max_fields: int
    max_part_size: int
    spool_max_size: int


async def parse_form(
    headers: Headers,
    stream: AsyncIterable[bytes],
    *,
    max_files: int = 1000,
    max_fields: int = 1000,
    max_part_size: int = 1024 * 1024,
    spool_max_size: int = DEFAULT_SPOOL_MAX_SIZE,
) -> FormData:
    """Read a form body from ``stream``, choosing the parser from the Content-Type header.

    Raises :class:`HTTPError` 400 for a malformed body, 413 when a limit is passed and 415
    for a content type that is not a form. The caller owns the returned files: close them
    with ``await form.close()``.
    """
    limits = _Limits(max_files, max_fields, max_part_size, spool_max_size)
    media, options = parse_options_header(headers.get("content-type"))
    if media == MULTIPART.encode():
        boundary = options.get(b"boundary")
        if not boundary:
            raise HTTPError(400, "The multipart/form-data Content-Type header has no boundary")
        return await _MultipartReader(boundary, limits).read(stream)
    if media == URLENCODED.encode():
        charset = options.get(b"charset", b"utf-8").decode("latin-1")
        _decode(b"", charset, "the urlencoded form")  # an unknown charset fails before reading
        return await _UrlencodedReader(charset, limits).read(stream)
    shown = media.decode("latin-1") or "a request without a Content-Type header"
    raise HTTPError(415, f"Cannot read a form from {shown}; send {' or '.join(FORM_MEDIA_TYPES)}")


def _decode(data: bytes, charset: str, what: str) -> str:
    """Decode client text, answering 400 (not 500) when it is not valid in ``charset``."""
    try:
        return data.decode(charset)
    except LookupError:
        raise HTTPError(400, f"Unknown charset {charset!r} for {what}") from None
    except UnicodeDecodeError:
        raise HTTPError(400, f"The {what} is not valid {charset} text") from None


def _too_large(name: str, limit: int) -> HTTPError:
    return HTTPError(413, f"Form field {name!r} is larger than max_part_size={limit} bytes")


def _too_many(what: str, limit: int) -> HTTPError:
    return HTTPError(413, f"Too many {what} in the form: the limit is max_{what}={limit}")


class _UrlencodedReader:
    """Collects the fields of an ``application/x-www-form-urlencoded`` body."""

    def __init__(self, charset: str, limits: _Limits) -> None:
        self._charset = charset
        self._limits = limits
        self._items: list[tuple[str, FormValue]] = []
        self._name = bytearray()
        self._value = bytearray()
        self._parser = QuerystringParser(
            callbacks={
                "on_field_start": self._on_field_start,
                "on_field_name": self._on_field_name,
                "on_field_data": self._on_field_data,
                "on_field_end": self._on_field_end,
            }
        )

    async def read(self, stream: AsyncIterable[bytes]) -> FormData:
        try:
            async for chunk in stream:
                self._parser.write(chunk)
            self._parser.finalize()
        except FormParserError as exc:
            raise HTTPError(400, f"Malformed urlencoded form body: {exc}") from None
        return FormData(self._items)

    def _on_field_start(self) -> None:
        self._name.clear()
        self._value.clear()

    def _on_field_name(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]
        self._check_size()

    def _on_field_data(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._check_size()

    def _check_size(self) -> None:
        if len(self._name) + len(self._value) > self._limits.max_part_size:
            # The name may be cut mid-character here: decode leniently, it is only shown.
            shown = unquote_to_bytes(bytes(self._name[:100])).decode(self._charset, "replace")
            raise _too_large(shown, self._limits.max_part_size)

    def _on_field_end(self) -> None:
        if not self._name and not self._value:
            return  # "a=1&&b=2": an empty segment is no field, as in parse_qsl
        if len(self._items) >= self._limits.max_fields:
            raise _too_many("fields", self._limits.max_fields)
        name = self._unquote(bytes(self._name), "field name")
        value = self._unquote(bytes(self._value), f"value of field {name!r}")
        self._items.append((name, value))

    def _unquote(self, raw: bytes, what: str) -> str:
        return _decode(unquote_to_bytes(raw.replace(b"+", b" ")), self._charset, what)


class _Part:
    """The multipart part being read: a plain field (bytes in memory) or a file."""

    __slots__ = ("charset", "data", "name", "upload")

    def __init__(self, name: str, upload: UploadFile | None, charset: str) -> None:
        self.name = name
        self.upload = upload
        self.charset = charset
        self.data = bytearray()


class _MultipartReader:
    """Collects the parts of a ``multipart/form-data`` body.

    The parser's callbacks are synchronous, so file data they see is queued in
    ``_pending`` and written (possibly in a thread) once ``_WRITE_BATCH`` bytes have queued
    up: memory stays bounded by one batch plus one chunk whatever the file size, and a
    client trickling tiny chunks does not cost one thread hop per chunk.
    """

    def __init__(self, boundary: bytes, limits: _Limits) -> None:
        self._limits = limits
        self._items: list[tuple[str, FormValue]] = []
        self._uploads: list[UploadFile] = []
        self._pending: list[tuple[UploadFile, bytearray]] = []
        self._pending_size = 0
        self._fields = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._part: _Part | None = None
        try:
            self._parser = MultipartParser(boundary, callbacks=self._callbacks())
        except FormParserError as exc:
            raise HTTPError(400, f"Bad multipart boundary: {exc}") from None

    def _callbacks(self) -> Any:
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }

    async def read(self, stream: AsyncIterable[bytes]) -> FormData:
        try:
            await self._feed(stream)
            for upload in self._uploads:
                await upload.seek(0)
        except BaseException:
            # Closing deletes the temporary files; done synchronously so that it also
            # happens when the task is being cancelled.
            for upload in self._uploads:
                upload.file.close()
            raise
        return FormData(self._items)

    async def _feed(self, stream: AsyncIterable[bytes]) -> None:
        received = False
        async for chunk in stream:
            received = received or bool(chunk)
            try:
                self._parser.write(chunk)
            except FormParserError as exc:
                raise HTTPError(400, f"Malformed multipart body: {exc}") from None
            if self._pending_size >= _WRITE_BATCH:
                await self._flush()
        self._parser.finalize()
        # python-multipart does not check that the body was complete; a cut body would
        # otherwise silently drop its last part.
        if received and self._parser.state != MultipartState.END:
            raise HTTPError(400, "Malformed multipart body: it ends before the closing boundary")
        await self._flush()

    async def _flush(self) -> None:
        pending, self._pending, self._pending_size = self._pending, [], 0
        for upload, data in pending:
            await upload.write(bytes(data))

    def _on_part_begin(self) -> None:
        self._headers = []
        self._part = None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers.append((bytes(self._header_name).lower(), bytes(self._header_value)))
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        headers = Headers(raw=self._headers)
        name, filename, is_file = _disposition(headers)
        if is_file:
            self._start_file(name, filename, headers)
        else:
            self._start_field(name, headers)

    def _start_field(self, name: str, headers: Headers) -> None:
        self._fields += 1
        if self._fields > self._limits.max_fields:
            raise _too_many("fields", self._limits.max_fields)
        _, options = parse_options_header(headers.get("content-type"))
        charset = options.get(b"charset", b"utf-8").decode("latin-1")
        self._part = _Part(name, None, charset)

    def _start_file(self, name: str, filename: str | None, headers: Headers) -> None:
        if len(self._uploads) >= self._limits.max_files:
            raise _too_many("files", self._limits.max_files)
        upload = UploadFile(
            filename=filename, headers=headers, spool_max_size=self._limits.spool_max_size
        )
        self._uploads.append(upload)
        self._items.append((name, upload))
        self._part = _Part(name, upload, "")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        assert part is not None
        if part.upload is not None:
            self._queue(part.upload, data[start:end])
            return
        part.data += data[start:end]
        if len(part.data) > self._limits.max_part_size:
            raise _too_large(part.name, self._limits.max_part_size)

    def _queue(self, upload: UploadFile, data: bytes) -> None:
        if self._pending and self._pending[-1][0] is upload:
            self._pending[-1][1].extend(data)
        else:
            self._pending.append((upload, bytearray(data)))
        self._pending_size += len(data)

    def _on_part_end(self) -> None:
        part = self._part
        if part is None or part.upload is not None:
            return
        value = _decode(bytes(part.data), part.charset, f"value of field {part.name!r}")
        self._items.append((part.name, value))


def _disposition(headers: Headers) -> tuple[str, str | None, bool]:
    """``(field name, file name, is a file)`` from a part's Content-Disposition header."""
    raw = headers.get("content-disposition")
    kind, options = parse_options_header(raw)
    if kind != b"form-data" or b"name" not in options:
        raise HTTPError(
            400, 'Malformed multipart body: a part lacks "Content-Disposition: form-data; name=…"'
        )
    name = _decode(options[b"name"], "utf-8", "multipart field name")
    extended = _extended_filename(raw) if "filename*" in raw else None
    if extended is not None:
        return name, extended, True
    if b"filename" not in options:
        return name, None, False
    return name, _decode(options[b"filename"], "utf-8", f"file name of field {name!r}"), True


def _extended_filename(raw: str) -> str | None:
    """The RFC 5987 ``filename*=charset'lang'percent-encoded`` value, if the header has one.

    RFC 7578 forbids this form in multipart bodies and python-multipart ignores it, but some
    non-browser clients send it; RFC 6266 says it wins over a plain ``filename``.
    """
    # Imported here: the email package is only needed for this rare form of header.
    import email.message

    message = email.message.Message()
    message["content-disposition"] = raw
    for key, value in message.get_params(header="content-disposition", failobj=[]):
        if key.lower() == "filename" and isinstance(value, tuple):
            charset, _, text = value
            # The stdlib percent-decodes to latin-1 code points: those are the raw bytes.
            return _decode(text.encode("latin-1"), charset or "utf-8", "file name")
    return None
