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

from prow.forms import csrf_input, csrf_token
from prow.templating._flash import FLASH_KEY, flash, get_flashed_messages
from prow.templating._helpers import is_htmx, redirect_to
from prow.templating._templates import Templates

__all__ = [
    "FLASH_KEY",
    "Templates",
    "csrf_input",
    "csrf_token",
    "flash",
    "get_flashed_messages",
    "is_htmx",
    "redirect_to",
]
