"""Built-in ASGI middleware and the spec an app builds its middleware stack from.

Each middleware is a plain ASGI callable wrapping another one: ``Cls(app, **options)``. Pass
them to an app as ``App(middleware=[Middleware(CORSMiddleware, allow_origins=[...])])``; the
first in the list is the outermost.
"""

from prow.middleware._access_log import AccessLogMiddleware
from prow.middleware._base import Middleware
from prow.middleware._cors import CORSMiddleware
from prow.middleware._gzip import GZipMiddleware
from prow.middleware._trustedhost import TrustedHostMiddleware

__all__ = [
    "AccessLogMiddleware",
    "CORSMiddleware",
    "GZipMiddleware",
    "Middleware",
    "TrustedHostMiddleware",
]
