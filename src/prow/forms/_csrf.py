"""The CSRF token as a hidden form field, for forms drawn on the server.

Threat: cross-site request forgery. A page on another site can make a logged-in browser
POST to this one; prow's core refuses unsafe requests whose token does not match the
``csrftoken`` cookie (see docs/security.md). A form this app renders itself carries the
token in a hidden field, which another site cannot read, so only our own forms pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup

from prow._csrf import CSRF_FIELD, csrf_token

if TYPE_CHECKING:
    from prow._request import HTTPConnection

__all__ = ["csrf_input"]


def csrf_input(request: HTTPConnection) -> Markup:
    """``<input type="hidden" name="csrf_token" value="…">`` for a form of this request."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, csrf_token(request)
    )
