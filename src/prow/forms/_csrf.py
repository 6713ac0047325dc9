"""The CSRF token as a hidden form field, for forms drawn on the server.

Threat: cross-site request forgery. A page on another site can make a logged-in browser
POST to this one; prow's core refuses unsafe requests whose token does not match the
``csrftoken`` cookie (see docs/security.md). A form this app renders itself carries the
token in a hidden field, which another site cannot read, so only our own forms pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:
    from prow._request import HTTPConnection

__all__ = ["csrf_field_name", "csrf_input", "csrf_token", "has_csrf"]

_DEFAULT_FIELD = "csrf_token"


def csrf_field_name() -> str:
    """The form field the core reads the token from (``prow.CSRF_FIELD``)."""
    import prow

    return str(getattr(prow, "CSRF_FIELD", _DEFAULT_FIELD))


def has_csrf(request: HTTPConnection) -> bool:
    """Whether this prow provides CSRF tokens (``request.csrf_token()``)."""
    return callable(getattr(request, "csrf_token", None))


def csrf_token(request: HTTPConnection) -> str:
    """A fresh (masked) CSRF token for ``request``; sets the cookie when it is missing."""
    method = getattr(request, "csrf_token", None)
    if not callable(method):
        raise RuntimeError("CSRF tokens need request.csrf_token(), which this prow lacks")
    return str(method())


def csrf_input(request: HTTPConnection) -> Markup:
    """``<input type="hidden" name="csrf_token" value="…">`` for a form of this request."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        csrf_field_name(), csrf_token(request)
    )
