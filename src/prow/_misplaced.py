"""Where a name that is not in ``prow`` lives: ``from prow import Resource`` says so.

Newcomers reach for the names they know — FastAPI's ``HTTPException``, Flask's ``Blueprint``,
a battery's class imported from the package root. The package's ``__getattr__`` answers a
missing name with the import that works, as an ``ImportError`` for ``from prow import X``
(Python would otherwise replace the message with its own) and an ``AttributeError`` for
``prow.X`` (so ``hasattr`` keeps working). A table, not an import: asking costs nothing
and imports no battery.
"""

from __future__ import annotations

from opcode import opname
from types import FrameType

__all__ = ["HOMES", "misplaced_name"]

_BATTERIES = {
    "prow.db": (
        "Connection DBSession Database Model Resource ResourceOptions get_or_404 "
        "get_session schema_for"
    ),
    "prow.auth": "Auth Accounts CurrentUser OptionalUser User Group Permission APIKey login logout",
    "prow.testing": "TestClient AsyncTestClient",
    "prow.templating": "Templates flash",
    "prow.staticfiles": "StaticFiles",
    "prow.sessions": "SessionMiddleware Sessions",
    "prow.ratelimit": "rate_limit RateLimits",
    "prow.forms": "ModelForm related_fields",
    "prow.admin": "Admin ModelAdmin TabularInline",
    "prow.tasks": "task Tasks Worker",
    "prow.mail": "send_mail EmailMessage Mail",
    "prow.cache": "Cache CachePolicy",
    "prow.channels": "Channels",
    "prow.graphql": "GraphQL",
    "prow.observability": "Observability",
}

#: A name users look for in ``prow`` -> the import that gives it (or its prow equivalent).
HOMES: dict[str, str] = {
    name: f"from {module} import {name}"
    for module, names in _BATTERIES.items()
    for name in names.split()
}
HOMES.update(
    {
        "HTTPException": "from prow import HTTPError  (prow's name for FastAPI's HTTPException)",
        "Session": "from prow.db import DBSession  (the database session)",
        "FastAPI": "from prow import App",
        "Flask": "from prow import App",
        "Starlette": "from prow import App",
        "APIRouter": "from prow import Router  (prow's name for FastAPI's APIRouter)",
        "Blueprint": "from prow import Router  (prow's name for Flask's Blueprint)",
        "Jinja2Templates": "from prow.templating import Templates",
        "BaseModel": "from pydantic import BaseModel",
        "Field": "from pydantic import Field",
    }
)


def misplaced_name(
    module: str, name: str, caller: FrameType | None
) -> AttributeError | ImportError:
    """The error to raise for ``module.name`` (missing), naming where it lives when known."""
    home = HOMES.get(name)
    message = f"module {module!r} has no attribute {name!r}"
    if home is not None:
        message = f"{module} has no {name!r}; use: {home}"
    if home is not None and _importing_from(caller):
        return ImportError(message, name=module)
    return AttributeError(message)


def _importing_from(frame: FrameType | None) -> bool:
    """Whether ``frame`` is running ``from module import name`` (not ``module.name``)."""
    if frame is None or frame.f_lasti < 0:
        return False
    try:
        return opname[frame.f_code.co_code[frame.f_lasti]] == "IMPORT_FROM"
    except IndexError:
        return False
