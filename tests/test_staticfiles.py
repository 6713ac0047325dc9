from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from prow.exceptions import ConfigurationError
from prow.staticfiles import StaticFiles
from prow.types import Message, Receive, Scope, Send

PKG = "prow_test_static_pkg"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """tmp/static holds the served files; tmp/secret.txt must never be reachable."""
    static = tmp_path / "static"
    (static / "docs").mkdir(parents=True)
    (static / "css").mkdir()
    (static / "hello.txt").write_text("hello")
    (static / "css" / "site.css").write_text("body{}")
    (static / "index.html").write_text("<h1>home</h1>")
    (static / "docs" / "index.html").write_text("<h1>docs</h1>")
    (tmp_path / "secret.txt").write_text("top secret")
    return static


def mounted(static: StaticFiles, prefix: str = "/static") -> httpx.AsyncClient:
    """Mimic a prow mount: the full path stays in ``path`` and ``root_path`` grows."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == prefix or path.startswith(prefix + "/"):
            scope = {**scope, "root_path": scope.get("root_path", "") + prefix}
            await static(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def call(
    static: StaticFiles, path: str, method: str = "GET", root_path: str = "/static"
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Call the app with a hand-built scope, exactly as a server would decode ``path``."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": root_path,
        "headers": [],
        "query_string": b"",
    }
    await static(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], body, sent[0]["headers"]


@pytest.mark.anyio
async def test_serves_a_file(site: Path) -> None:
    async with mounted(StaticFiles(directory=site)) as client:
        response = await client.get("/static/css/site.css")
        head = await client.head("/static/hello.txt")
    assert response.status_code == 200
    assert response.text == "body{}"
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert "etag" in response.headers
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == "5"


@pytest.mark.anyio
async def test_conditional_and_range_requests_work(site: Path) -> None:
    async with mounted(StaticFiles(directory=site)) as client:
        etag = (await client.get("/static/hello.txt")).headers["etag"]
        cached = await client.get("/static/hello.txt", headers={"if-none-match": etag})
        partial = await client.get("/static/hello.txt", headers={"range": "bytes=1-2"})
    assert cached.status_code == 304
    assert (partial.status_code, partial.text) == (206, "el")


@pytest.mark.anyio
async def test_unmounted_app_uses_the_whole_path(site: Path) -> None:
    app = StaticFiles(directory=site)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/hello.txt")
    assert response.text == "hello"


@pytest.mark.anyio
async def test_missing_file_is_problem_404(site: Path) -> None:
    async with mounted(StaticFiles(directory=site)) as client:
        response = await client.get("/static/nope.txt")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",  # what a server gives for /static/%2e%2e/secret.txt
        "/static/css/../../secret.txt",
        "/static/..",
        "/static/..\\secret.txt",
        "/static/css\\..\\..\\secret.txt",
        "/static/hello.txt\0.png",
        "/static/%2e%2e/secret.txt",  # never decoded: a literal (missing) file name
        "/static//" + "/".join([".."] * 3) + "/etc/passwd",
    ],
)
async def test_traversal_attempts_are_404(site: Path, path: str) -> None:
    status, body, _ = await call(StaticFiles(directory=site), path)
    assert status == 404
    assert b"secret" not in body


@pytest.mark.anyio
async def test_absolute_looking_path_stays_inside(site: Path, tmp_path: Path) -> None:
    # "//<tmp>/secret.txt" must be looked up *under* the directory, not at the absolute path.
    secret = str(tmp_path / "secret.txt")
    status, _, _ = await call(StaticFiles(directory=site), "/static/" + secret)
    assert status == 404


@pytest.mark.anyio
async def test_traversal_through_http_client(site: Path) -> None:
    async with mounted(StaticFiles(directory=site)) as client:
        encoded = await client.get("/static/%2e%2e/secret.txt")
        dotted = await client.get("/static/css/%2E%2E/%2E%2E/secret.txt")
    for response in (encoded, dotted):
        # httpx keeps %2e%2e in raw_path and hands the decoded ".." to the app in path.
        assert response.status_code == 404
        assert "secret" not in response.text


@pytest.mark.anyio
async def test_symlink_escaping_the_directory(site: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.txt", site / "leak.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "more.txt").write_text("also secret")
    os.symlink(outside, site / "linkdir")
    os.symlink(site / "hello.txt", site / "alias.txt")  # stays inside: allowed

    strict = StaticFiles(directory=site)
    assert (await call(strict, "/static/leak.txt"))[0] == 404
    assert (await call(strict, "/static/linkdir/more.txt"))[0] == 404
    assert (await call(strict, "/static/alias.txt"))[:2] == (200, b"hello")

    trusting = StaticFiles(directory=site, follow_symlink=True)
    assert (await call(trusting, "/static/leak.txt"))[:2] == (200, b"top secret")
    assert (await call(trusting, "/static/linkdir/more.txt"))[:2] == (200, b"also secret")
    assert (await call(trusting, "/static/../secret.txt"))[0] == 404


@pytest.mark.anyio
async def test_symlink_loop_is_404(site: Path) -> None:
    os.symlink(site / "loop", site / "loop")
    assert (await call(StaticFiles(directory=site), "/static/loop"))[0] == 404


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
async def test_other_methods_are_405(site: Path, method: str) -> None:
    async with mounted(StaticFiles(directory=site)) as client:
        response = await client.request(method, "/static/hello.txt")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["title"] == "Method Not Allowed"


@pytest.mark.anyio
async def test_directories_are_404_without_html(site: Path) -> None:
    async with mounted(StaticFiles(directory=site)) as client:
        assert (await client.get("/static/")).status_code == 404
        assert (await client.get("/static/docs/")).status_code == 404


@pytest.mark.anyio
async def test_html_mode(site: Path) -> None:
    async with mounted(StaticFiles(directory=site, html=True)) as client:
        home = await client.get("/static/")
        docs = await client.get("/static/docs/")
        redirect = await client.get("/static/docs")
        bare = await client.get("/static")
        missing = await client.get("/static/nope.html")
        no_index = await client.get("/static/css/")
    assert home.text == "<h1>home</h1>"
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert docs.text == "<h1>docs</h1>"
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "/static/docs/"
    assert bare.headers["location"] == "/static/"
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert no_index.status_code == 404


@pytest.mark.anyio
async def test_html_mode_serves_404_page(site: Path) -> None:
    (site / "404.html").write_text("<h1>lost</h1>")
    async with mounted(StaticFiles(directory=site, html=True)) as client:
        missing = await client.get("/static/nope", headers={"if-none-match": "*"})
        traversal = await call(StaticFiles(directory=site, html=True), "/static/../x")
    assert missing.status_code == 404
    assert missing.text == "<h1>lost</h1>"
    assert traversal[0] == 404


@pytest.mark.anyio
async def test_redirect_cannot_leave_the_site(site: Path) -> None:
    (site / "evil.example").mkdir()
    app = StaticFiles(directory=site, html=True)
    status, _, headers = await call(app, "//evil.example", root_path="")
    assert status == 307
    assert (b"location", b"/evil.example/") in headers


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "site-packages"
    pkg = root / PKG
    (pkg / "static").mkdir(parents=True)
    (pkg / "assets").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "plain.py").write_text("")
    (pkg / "static" / "app.js").write_text("console.log(1)")
    (pkg / "assets" / "logo.svg").write_text("<svg/>")
    monkeypatch.syspath_prepend(str(root))
    yield pkg
    for name in [n for n in sys.modules if n == PKG or n.startswith(PKG + ".")]:
        del sys.modules[name]


@pytest.mark.anyio
async def test_package_mode(package: Path, site: Path) -> None:
    default = StaticFiles(packages=[PKG])
    named = StaticFiles(packages=[(PKG, "assets")])
    both = StaticFiles(directory=site, packages=[PKG])
    assert (await call(default, "/static/app.js"))[:2] == (200, b"console.log(1)")
    assert (await call(named, "/static/logo.svg"))[:2] == (200, b"<svg/>")
    assert (await call(named, "/static/app.js"))[0] == 404
    assert (await call(default, "/static/../__init__.py"))[0] == 404
    assert (await call(both, "/static/hello.txt"))[:2] == (200, b"hello")
    assert (await call(both, "/static/app.js"))[:2] == (200, b"console.log(1)")


@pytest.mark.usefixtures("package")
def test_package_errors() -> None:
    with pytest.raises(ConfigurationError, match="not installed"):
        StaticFiles(packages=["prow_no_such_package_xyz"])
    with pytest.raises(ConfigurationError, match="not a package"):
        StaticFiles(packages=[f"{PKG}.plain"])
    with pytest.raises(ConfigurationError, match="no 'missing' folder"):
        StaticFiles(packages=[(PKG, "missing")])


def test_missing_directory_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist") as caught:
        StaticFiles(directory=tmp_path / "nope")
    assert caught.value.code == "prow.E405"
    with pytest.raises(ConfigurationError, match="directory, packages"):
        StaticFiles()


@pytest.mark.anyio
async def test_check_dir_false_allows_a_missing_directory(tmp_path: Path) -> None:
    app = StaticFiles(directory=tmp_path / "later", check_dir=False)
    assert (await call(app, "/static/x.txt"))[0] == 404
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "x.txt").write_text("now")
    assert (await call(app, "/static/x.txt"))[:2] == (200, b"now")


@pytest.mark.anyio
async def test_websocket_is_closed(site: Path) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await StaticFiles(directory=site)({"type": "websocket", "path": "/x"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1000}]
