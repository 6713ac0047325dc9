"""Tests for the offline Swagger UI / ReDoc pages and their vendored assets."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from importlib.resources import files

import pytest

from prow.openapi import _ui
from prow.openapi._ui import (
    ASSET_CACHE_CONTROL,
    ASSET_NAMES,
    asset_etag,
    etag_matches,
    get_asset,
    load_asset,
    redoc_html,
    swagger_ui_html,
    swagger_ui_oauth2_redirect_html,
)

URL_RE = re.compile(r"https?://[^\s\"'<>]*")
EVIL = '</script><script>alert("x")</script><!-- & "quoted"'


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
    page = swagger_ui_html(openapi_url="/openapi.json", title="Demo", assets_url="/docs/assets")
    assert URL_RE.findall(page) == []
    srcs = [attrs.get("src") for attrs in _scripts(page) if attrs.get("src")]
    assert srcs == ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui-init.js"]
    assert '<link rel="stylesheet" href="/docs/assets/swagger-ui.css">' in page
    assert "<title>Demo</title>" in page


def test_swagger_page_mentions_only_the_given_absolute_urls() -> None:
    page = swagger_ui_html(
        openapi_url="https://api.example.test/openapi.json",
        title="Demo",
        assets_url="https://static.example.test/ui",
        oauth2_redirect_url="https://api.example.test/docs/oauth2-redirect.html",
    )
    assert set(URL_RE.findall(page)) == {
        "https://api.example.test/openapi.json",
        "https://api.example.test/docs/oauth2-redirect.html",
        "https://static.example.test/ui/favicon-32x32.png",
        "https://static.example.test/ui/swagger-ui.css",
        "https://static.example.test/ui/swagger-ui-bundle.js",
        "https://static.example.test/ui/swagger-ui-init.js",
    }


def test_swagger_config_defaults() -> None:
    settings = _swagger_settings(
        swagger_ui_html(openapi_url="/openapi.json", title="T", assets_url="/a")
    )
    assert settings == {
        "config": {
            "url": "/openapi.json",
            "dom_id": "#swagger-ui",
            "layout": "BaseLayout",
            "deepLinking": True,
            "showExtensions": True,
            "showCommonExtensions": True,
            "persistAuthorization": False,
            "validatorUrl": None,
        },
        "initOAuth": None,
    }


def test_swagger_config_oauth_and_parameters_merge() -> None:
    page = swagger_ui_html(
        openapi_url="/openapi.json",
        title="T",
        assets_url="/a",
        oauth2_redirect_url="/a/oauth2-redirect.html",
        init_oauth={"clientId": "docs", "usePkceWithAuthorizationCodeGrant": True},
        parameters={"deepLinking": False, "docExpansion": "none", "persistAuthorization": True},
    )
    settings = _swagger_settings(page)
    config = settings["config"]
    assert isinstance(config, dict)
    assert config["oauth2RedirectUrl"] == "/a/oauth2-redirect.html"
    assert config["deepLinking"] is False
    assert config["docExpansion"] == "none"
    assert config["persistAuthorization"] is True
    assert settings["initOAuth"] == {"clientId": "docs", "usePkceWithAuthorizationCodeGrant": True}


def test_swagger_hostile_values_cannot_close_the_script_element() -> None:
    page = swagger_ui_html(
        openapi_url=EVIL,
        title=EVIL,
        assets_url="/a",
        init_oauth={"appName": EVIL},
        parameters={EVIL: EVIL},
    )
    # Exactly the three script elements the template writes; none injected.
    assert page.count("<script") == 3
    assert page.count("</script>") == 3
    assert "<!--" not in page
    embedded = _parse(page).data["prow-swagger-ui-config"]
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    settings = _swagger_settings(page)
    config = settings["config"]
    assert isinstance(config, dict)
    # The values survive the round trip unchanged.
    assert config["url"] == EVIL
    assert config[EVIL] == EVIL
    assert settings["initOAuth"] == {"appName": EVIL}
    assert "<title>&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)" in page


def test_swagger_escapes_assets_url_attribute() -> None:
    page = swagger_ui_html(openapi_url="/o", title="T", assets_url='/a"><script>x()</script>')
    assert page.count("<script") == 3
    srcs = [attrs["src"] for attrs in _scripts(page) if attrs.get("src")]
    assert srcs[0] == '/a"><script>x()</script>/swagger-ui-bundle.js'


# --- ReDoc page --------------------------------------------------------------------------------


def test_redoc_page_is_offline() -> None:
    page = redoc_html(openapi_url="/openapi.json", title="Demo API", assets_url="/docs/assets")
    assert URL_RE.findall(page) == []
    assert "fonts.googleapis" not in page
    assert "<title>Demo API</title>" in page
    parsed = _parse(page)
    redoc = [attrs for tag, attrs in parsed.tags if tag == "redoc"]
    assert redoc == [{"spec-url": "/openapi.json"}]
    assert [a.get("src") for a in _scripts(page)] == ["/docs/assets/redoc.standalone.js"]


def test_redoc_escapes_title_and_spec_url() -> None:
    page = redoc_html(openapi_url=EVIL, title=EVIL, assets_url="/a")
    assert page.count("<script") == 1
    assert "<!--" not in page
    redoc = [attrs for tag, attrs in _parse(page).tags if tag == "redoc"]
    assert redoc == [{"spec-url": EVIL}]


def test_redoc_mentions_only_the_given_absolute_urls() -> None:
    page = redoc_html(
        openapi_url="http://localhost:8000/openapi.json",
        title="T",
        assets_url="http://127.0.0.1:9000/static",
    )
    assert set(URL_RE.findall(page)) == {
        "http://localhost:8000/openapi.json",
        "http://127.0.0.1:9000/static/favicon-32x32.png",
        "http://127.0.0.1:9000/static/redoc.standalone.js",
    }


# --- OAuth2 redirect page --------------------------------------------------------------------


def test_oauth2_redirect_page_names_its_script_absolutely() -> None:
    page = swagger_ui_oauth2_redirect_html(assets_url="/_prow/docs-assets")
    assert [a.get("src") for a in _scripts(page)] == ["/_prow/docs-assets/oauth2-redirect.js"]
    assert '<meta name="referrer" content="no-referrer">' in page
    assert URL_RE.findall(page) == []


def test_oauth2_redirect_page_escapes_assets_url() -> None:
    page = swagger_ui_oauth2_redirect_html(assets_url='/a"></script><script>x()</script>')
    assert page.count("<script") == 1
    assert [a.get("src") for a in _scripts(page)] == [
        '/a"></script><script>x()</script>/oauth2-redirect.js'
    ]


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
def test_assets_load_with_media_type(name: str, media_type: str, marker: bytes) -> None:
    loaded = load_asset(name)
    assert loaded is not None
    content, loaded_type = loaded
    assert loaded_type == media_type
    assert marker in content


def test_asset_names_match_the_allow_list() -> None:
    assert {
        "swagger-ui-bundle.js",
        "swagger-ui-init.js",
        "swagger-ui.css",
        "oauth2-redirect.html",
        "oauth2-redirect.js",
        "redoc.standalone.js",
        "favicon-32x32.png",
    } == ASSET_NAMES


@pytest.mark.parametrize(
    "name",
    [
        "",
        "missing.js",
        "README.md",
        "LICENSE-redoc",
        "../_ui.py",
        "_static/swagger-ui.css",
        "/etc/passwd",
        "swagger-ui.css/",
        "SWAGGER-UI.CSS",
        "redoc.standalone.js.map",
    ],
)
def test_unknown_asset_is_none(name: str) -> None:
    assert load_asset(name) is None
    assert get_asset(name) is None
    assert asset_etag(name) is None


def test_unknown_names_are_not_cached() -> None:
    _ui.get_asset("swagger-ui.css")
    before = _ui._read_asset.cache_info().currsize
    for i in range(50):
        assert get_asset(f"made-up-{i}.js") is None
    assert _ui._read_asset.cache_info().currsize == before


def test_asset_is_read_once_and_cached() -> None:
    first = get_asset("redoc.standalone.js")
    second = get_asset("redoc.standalone.js")
    assert first is not None and first is second


def test_asset_etag_is_a_quoted_content_hash() -> None:
    asset = get_asset("swagger-ui.css")
    assert asset is not None
    digest = hashlib.sha256(asset.content).hexdigest()[:32]
    assert asset.etag == f'"{digest}"' == asset_etag("swagger-ui.css")
    assert asset_etag("swagger-ui.css") != asset_etag("swagger-ui-bundle.js")
    assert ASSET_CACHE_CONTROL == "public, max-age=86400"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ('"x" ,W/"abc" ', True),
        ("*", True),
        ('"abcd"', False),
        ("abc", False),
    ],
)
def test_etag_matches(header: str | None, expected: bool) -> None:
    assert etag_matches(header, '"abc"') is expected


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
    loaded = load_asset("redoc.standalone.js")
    assert loaded is not None
    assert b"cdn.redoc.ly" not in loaded[0]
