"""Server-rendered pages: Jinja2 templates, flash messages, redirects and htmx fragments.

::

    from prow.templating import Templates, flash, redirect_to

    templates = Templates(directory="templates")

    @app.get("/")
    async def home(request: Request) -> HTMLResponse:
        return templates.render(request, "home.html", {"items": items})

Every template sees ``request``, ``user``, ``url_for()``, ``static()``, ``csrf_token()``,
``csrf_input()`` and ``get_flashed_messages()``. Needs Jinja2 (``pip install 'prow[templates]'``).
"""

try:
    import jinja2 as _jinja2  # noqa: F401  # fail here, with the hint, when it is missing
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "prow.templating needs Jinja2: pip install 'prow[templates]' (or pip install jinja2)"
    ) from exc

from typing import TYPE_CHECKING, Any

from prow._renamed import renamed_attribute
from prow.templating._flash import FLASH_KEY, flash, get_flashed_messages
from prow.templating._helpers import is_htmx, redirect_to
from prow.templating._templates import Templates

if TYPE_CHECKING:  # deprecated here: prow.csrf_token and prow.forms.csrf_input
    from prow._csrf import csrf_token as csrf_token
    from prow.forms import csrf_input as csrf_input

# Each name has one home: ``csrf_token`` in ``prow``, ``csrf_input`` in ``prow.forms``.
# Templates call their own ``csrf_token()`` / ``csrf_input()`` globals either way.
_RENAMED = {"csrf_token": "prow.csrf_token", "csrf_input": "prow.forms.csrf_input"}


def __getattr__(name: str) -> Any:
    return renamed_attribute(__name__, name, _RENAMED)


__all__ = [
    "FLASH_KEY",
    "Templates",
    "flash",
    "get_flashed_messages",
    "is_htmx",
    "redirect_to",
]
