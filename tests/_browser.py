"""Headless-browser helpers for tests: a real server on 127.0.0.1 and a Chromium with no internet.

Register this module as a pytest plugin in ``tests/conftest.py`` (``tests/`` is on ``sys.path``
because that conftest lives there)::

    pytest_plugins = ["_browser"]

Then any test can use the fixtures, and ``serve_app`` from ``_browser``::

    from _browser import OfflinePage, serve_app

    def test_docs_render(offline_page: OfflinePage) -> None:
        with serve_app(app) as base_url:
            offline_page.page.goto(f"{base_url}/docs")
            offline_page.page.wait_for_selector(".opblock-summary")
        offline_page.assert_offline()

The browser is Debian's ``chromium`` driven through Playwright's Python package; Playwright's own
browser download (``playwright install``) is never used. Every request that is not to the local
test server is aborted and recorded, so a page that renders proves it needs no internet access.
Without chromium or playwright the fixtures skip, unless ``PROW_REQUIRE_BROWSER=1`` (CI), where
they fail instead.

Why the plugin registration matters: while Playwright's sync API is open it leaves its own event
loop marked as running in the main thread, so an asyncio/anyio test that runs after the first
browser test fails with "Cannot run the event loop while another loop is running". The browser is
launched once per session (about 1.5 s), so the plugin's collection hook moves every test that uses
it to the end of the run and marks it ``browser``; the fixture refuses to run without the hook.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

__all__ = [
    "CHROMIUM_ARGS",
    "OfflinePage",
    "browser",
    "offline_page",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "serve_app",
]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Schemes that never leave the browser (inline data, worker blobs, the blank page).
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})
STARTUP_TIMEOUT = 10.0


def _unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when the environment promises a browser."""
    if os.environ.get("PROW_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (PROW_REQUIRE_BROWSER=1 requires the browser tests to run)")
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``browser`` marker, so the plugin also works outside this repository."""
    config.addinivalue_line("markers", "browser: drives headless Chromium (see tests/_browser.py)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run browser tests last (see the module docstring) and mark them ``browser``."""
    uses_browser = [item for item in items if "browser" in getattr(item, "fixturenames", ())]
    if not uses_browser:
        return
    chosen = {id(item) for item in uses_browser}
    for item in uses_browser:
        item.add_marker(pytest.mark.browser)
    items[:] = [item for item in items if id(item) not in chosen] + uses_browser


@pytest.fixture(scope="session")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """A headless Debian Chromium shared by the whole test session."""
    if not request.config.pluginmanager.has_plugin(__name__):
        pytest.fail(
            f"register the browser helpers as a plugin: pytest_plugins = [{__name__!r}] in "
            "tests/conftest.py (needed so browser tests run after all async tests)"
        )
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright  # optional dependency
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright; no browser download)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class OfflinePage:
    """A page whose requests may only reach the local server; the rest are blocked and listed."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def assert_offline(self) -> None:
        """Fail if the page tried to reach anything but the local server."""
        assert self.blocked == [], f"page tried to reach the internet: {self.blocked}"

    def assert_no_errors(self) -> None:
        """Fail on uncaught JavaScript exceptions or console errors."""
        assert self.page_errors == [], f"uncaught page errors: {self.page_errors}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


@pytest.fixture
def offline_page(browser: Browser) -> Iterator[OfflinePage]:
    """A fresh browser context and page that cannot reach the internet."""
    context = browser.new_context()
    page = context.new_page()
    result = OfflinePage(page)

    def guard(route: Route) -> None:
        url = route.request.url
        if _is_local(url):
            route.continue_()
        else:
            result.blocked.append(url)
            route.abort("blockedbyclient")

    # On the context, so pop-ups (the OAuth2 redirect window) are guarded too.
    context.route("**/*", guard)
    page.on("pageerror", lambda error: result.page_errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            result.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    try:
        yield result
    finally:
        context.close()


class _ThreadServer:
    """uvicorn in a background thread; signal handling stays with the main thread."""

    def __init__(self, app: Any, sock: socket.socket, **config: Any) -> None:
        import uvicorn  # only browser tests need a real server

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                # The test runner owns SIGINT/SIGTERM; a server in a thread must not take them.
                yield

        options: dict[str, Any] = {"log_level": "warning", "lifespan": "auto"} | config
        self.server = _Server(uvicorn.Config(app, **options))
        self.sock = sock
        self.thread = threading.Thread(target=self.server.run, args=([sock],), daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the test server stopped during start-up (see log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the test server did not start within {STARTUP_TIMEOUT}s")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(STARTUP_TIMEOUT)
        self.sock.close()


@contextlib.contextmanager
def serve_app(app: Any, **uvicorn_config: Any) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 at a free port; yield its base URL (no trailing slash).

    Extra keyword arguments go to ``uvicorn.Config`` (e.g. ``lifespan="on"``).
    """
    # Binding port 0 ourselves and handing uvicorn the socket avoids a race for a "free" port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _ThreadServer(app, sock, **uvicorn_config)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
