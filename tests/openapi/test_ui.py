"""The offline Swagger UI / ReDoc pages and their vendored assets, as a browser fetches them."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from importlib.resources import files
from urllib.parse import quote

import httpx
import pytest

from prow import App
from prow.testing import TestClient

URL_RE = re.compile(r"https?://[^\s\"'<>]*")
EVIL = '</script><script>alert("x")</script><!-- & "quoted"'
ASSETS = "/_prow/docs-assets"
#: The only files the docs pages may load (a request names one; it never supplies a path).
ASSET_NAMES = {
    "swagger-ui-bundle.js",
    "swagger-ui-init.js",
    "swagger-ui.css",
    "oauth2-redirect.html",
    "oauth2-redirect.js",
    "redoc.standalone.js",
    "favicon-32x32.png",
}


def page(path: str, title: str = "Demo", root_path: str = "") -> str:
    """The HTML an app titled ``title`` serves at ``path`` (behind ``root_path``)."""
    response = TestClient(App(title=title), root_path=root_path).get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


def asset(name: str, **headers: str) -> httpx.Response:
    return TestClient(App()).get(f"{ASSETS}/{quote(name, safe='')}", headers=headers)


class _Collector(HTMLParser):
    """Records start tags (with attributes) and the text of each element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: dict[str, str] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._current = dict(attrs).get("id") or tag

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self.data[self._current] = self.data.get(self._current, "") + data

    def handle_endtag(self, tag: str) -> None:
        self._current = None


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector


def _swagger_settings(page: str) -> dict[str, object]:
    parsed = _parse(page)
    settings = json.loads(parsed.data["prow-swagger-ui-config"])
    assert isinstance(settings, dict)
    return settings


def _scripts(page: str) -> list[dict[str, str | None]]:
    return [attrs for tag, attrs in _parse(page).tags if tag == "script"]


# --- Swagger UI page ---------------------------------------------------------------------------


def test_swagger_page_loads_local_assets_only() -> None:
    html = page("/docs")
    assert URL_RE.findall(html) == []
    srcs = [attrs.get("src") for attrs in _scripts(html) if attrs.get("src")]
    assert srcs == [f"{ASSETS}/swagger-ui-bundle.js", f"{ASSETS}/swagger-ui-init.js"]
    assert f'<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">' in html
    assert "<title>Demo - Swagger UI</title>" in html


def test_swagger_page_behind_a_proxy_prefix_names_every_url_under_it() -> None:
    html = page("/docs", root_path="/api")
    links = [attrs.get("src") or attrs.get("href") for _, attrs in _parse(html).tags]
    assert [link for link in links if link] == [
        f"/api{ASSETS}/favicon-32x32.png",
        f"/api{ASSETS}/swagger-ui.css",
        f"/api{ASSETS}/swagger-ui-bundle.js",
        f"/api{ASSETS}/swagger-ui-init.js",
    ]
    config = _swagger_settings(html)["config"]
    assert isinstance(config, dict)
    assert (config["url"], config["oauth2RedirectUrl"]) == (
        "/api/openapi.json",
        "/api/docs/oauth2-redirect",
    )


def test_swagger_config_defaults() -> None:
    assert _swagger_settings(page("/docs")) == {
        "config": {
            "url": "/openapi.json",
            "dom_id": "#swagger-ui",
            "layout": "BaseLayout",
            "deepLinking": True,
            "showExtensions": True,
            "showCommonExtensions": True,
            "persistAuthorization": False,
            "validatorUrl": None,
            "oauth2RedirectUrl": "/docs/oauth2-redirect",
        },
        "initOAuth": None,
    }


def test_swagger_hostile_values_cannot_close_the_script_element() -> None:
    html = TestClient(App(title=EVIL), root_path=EVIL).get("/docs").text
    # Exactly the three script elements the template writes; none injected.
    assert html.count("<script") == 3
    assert html.count("</script>") == 3
    assert "<!--" not in html
    embedded = _parse(html).data["prow-swagger-ui-config"]
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    config = _swagger_settings(html)["config"]
    assert isinstance(config, dict)
    assert config["url"] == EVIL + "/openapi.json"  # the value survives the round trip
    assert "<title>&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)" in html


def test_swagger_escapes_a_hostile_root_path_in_attributes_and_config() -> None:
    root = '/a"><script>x()</script>'
    html = TestClient(App(), root_path=root).get("/docs").text
    assert html.count("<script") == 3
    srcs = [attrs["src"] for attrs in _scripts(html) if attrs.get("src")]
    assert srcs[0] == f"{root}{ASSETS}/swagger-ui-bundle.js"


# --- ReDoc page --------------------------------------------------------------------------------


def test_redoc_page_is_offline() -> None:
    html = page("/redoc", title="Demo API")
    assert URL_RE.findall(html) == []
    assert "fonts.googleapis" not in html
    assert "<title>Demo API - ReDoc</title>" in html
    redoc = [attrs for tag, attrs in _parse(html).tags if tag == "redoc"]
    assert redoc == [{"spec-url": "/openapi.json"}]
    assert [a.get("src") for a in _scripts(html)] == [f"{ASSETS}/redoc.standalone.js"]


def test_redoc_escapes_title_and_spec_url() -> None:
    root = '/a"><script>x()</script><!--'
    html = TestClient(App(title=EVIL), root_path=root).get("/redoc").text
    assert html.count("<script") == 1
    assert "<!--" not in html
    redoc = [attrs for tag, attrs in _parse(html).tags if tag == "redoc"]
    assert redoc == [{"spec-url": root + "/openapi.json"}]
    assert "<title>&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)" in html


# --- OAuth2 redirect page --------------------------------------------------------------------


def test_oauth2_redirect_page_names_its_script_absolutely() -> None:
    response = TestClient(App()).get("/docs/oauth2-redirect")
    assert [a.get("src") for a in _scripts(response.text)] == [f"{ASSETS}/oauth2-redirect.js"]
    assert '<meta name="referrer" content="no-referrer">' in response.text
    assert URL_RE.findall(response.text) == []
    assert response.headers["cache-control"] == "no-store"  # the URL carries the OAuth code


def test_oauth2_redirect_page_escapes_a_hostile_root_path() -> None:
    root = '/a"></script><script>x()</script>'
    html = TestClient(App(), root_path=root).get("/docs/oauth2-redirect").text
    assert html.count("<script") == 1
    assert [a.get("src") for a in _scripts(html)] == [f"{root}{ASSETS}/oauth2-redirect.js"]


# --- assets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type", "marker"),
    [
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8", b"SwaggerUIBundle"),
        ("swagger-ui-init.js", "text/javascript; charset=utf-8", b"prow-swagger-ui-config"),
        ("swagger-ui.css", "text/css; charset=utf-8", b".swagger-ui"),
        ("oauth2-redirect.html", "text/html; charset=utf-8", b"oauth2-redirect.js"),
        ("oauth2-redirect.js", "text/javascript; charset=utf-8", b"swaggerUIRedirectOauth2"),
        ("redoc.standalone.js", "text/javascript; charset=utf-8", b"Redoc"),
        ("favicon-32x32.png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ],
)
def test_assets_are_served_with_their_media_type(name: str, media_type: str, marker: bytes) -> None:
    response = asset(name)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert marker in response.content


@pytest.mark.parametrize(
    "name",
    [
        "missing.js",
        "README.md",
        "LICENSE-redoc",
        "../_ui.py",
        "_static/swagger-ui.css",
        "/etc/passwd",
        "SWAGGER-UI.CSS",
        "redoc.standalone.js.map",
    ],
)
def test_only_the_listed_assets_are_served(name: str) -> None:
    response = asset(name)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_asset_etag_is_a_quoted_content_hash_and_assets_are_cached_for_a_day() -> None:
    css, bundle = asset("swagger-ui.css"), asset("swagger-ui-bundle.js")
    digest = hashlib.sha256(css.content).hexdigest()[:32]
    assert css.headers["etag"] == f'"{digest}"'
    assert css.headers["etag"] != bundle.headers["etag"]
    assert css.headers["cache-control"] == "public, max-age=86400"


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ("", False),
        ('"{tag}"', True),
        ('W/"{tag}"', True),
        ('"x", "{tag}"', True),
        ('"x" ,W/"{tag}" ', True),
        ("*", True),
        ('"{tag}d"', False),  # a longer tag is another tag
        ("{tag}", False),  # an unquoted tag is not the tag
    ],
)
def test_if_none_match_answers_304(header: str, matches: bool) -> None:
    etag = asset("swagger-ui.css").headers["etag"]
    sent = header.format(tag=etag.strip('"'))
    response = asset("swagger-ui.css", **({"if-none-match": sent} if sent else {}))
    assert response.status_code == (304 if matches else 200), sent
    assert response.headers["etag"] == etag
    assert (response.content == b"") is matches


def test_static_files_ship_in_the_package() -> None:
    static = files("prow.openapi").joinpath("_static")
    for name in ASSET_NAMES | {"LICENSE-swagger-ui", "LICENSE-redoc", "README.md"}:
        assert static.joinpath(name).is_file(), name
    names = {entry.name for entry in static.iterdir()}
    assert not [n for n in names if n.endswith(".map")], "source maps must not be shipped"


def test_vendored_versions_are_documented() -> None:
    static = files("prow.openapi").joinpath("_static")
    readme = static.joinpath("README.md").read_text(encoding="utf-8")
    for name in ASSET_NAMES - {"swagger-ui-init.js"}:
        digest = hashlib.sha256(static.joinpath(name).read_bytes()).hexdigest()
        assert digest in readme, f"{name} changed without updating _static/README.md"


def test_redoc_bundle_does_not_load_its_logo_from_the_internet() -> None:
    assert b"cdn.redoc.ly" not in asset("redoc.standalone.js").content
