"""Response classes: return one from a handler to control exactly what is sent."""

from prow.responses._base import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from prow.responses._file import FileResponse
from prow.responses._sse import EventSourceResponse, ServerSentEvent
from prow.responses._streaming import StreamingResponse

__all__ = [
    "EventSourceResponse",
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "ServerSentEvent",
    "StreamingResponse",
]
