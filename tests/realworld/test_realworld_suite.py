"""The Conduit example against the official RealWorld API test suite, on SQLite and PostgreSQL.

The suite (spec v2: 13 Hurl files, 154 requests) lives outside the repository, in
``../shared/realworld/hurl`` beside the clone; ``_hurl.py`` runs its files in process. Each
file is one test, on each backend. Without the folder the tests skip, saying where they
looked, unless ``PROW_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _conduit import BACKENDS, conduit_app, conduit_database
from prow import App
from prow.testing import TestClient
from realworld._hurl import FileResult, HurlSyntaxError, parse, run

SUITE = Path(__file__).resolve().parents[2].parent / "shared" / "realworld" / "hurl"
#: The files ``run-hurl-tests.sh`` runs (``*.hurl``), by name so each is a test of its own.
FILES = [
    "articles",
    "auth",
    "comments",
    "errors_articles",
    "errors_auth",
    "errors_authorization",
    "errors_comments",
    "errors_profiles",
    "favorites",
    "feed",
    "pagination",
    "profiles",
    "tags",
]


def suite_file(name: str) -> Path:
    """The suite's ``name``.hurl; a skip (a failure in CI) when the suite is not there."""
    path = SUITE / f"{name}.hurl"
    if not path.is_file():
        reason = f"the RealWorld suite is not at {SUITE} (../shared/realworld/hurl)"
        if os.environ.get("PROW_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} and PROW_REQUIRE_SERVICES=1")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[str]:
    yield from conduit_database(request.param, tmp_path_factory)


@pytest.mark.parametrize("name", FILES)
def test_conduit_passes_the_official_suite(name: str, database_url: str) -> None:
    path = suite_file(name)
    # Like run-hurl-tests.sh: `host`, and a `uid` that keeps each run's names its own.
    with TestClient(conduit_app(database_url)) as client:
        variables = {"host": str(client.base_url).rstrip("/"), "uid": secrets.token_hex(4)}
        result = run(client, path, variables)
    if result.failures:
        pytest.fail("\n".join(result.failures), pytrace=False)
    assert result.passed == result.total


def test_the_suite_is_whole() -> None:
    """Every file is run and read to its last request: 13 files, 154 requests."""
    present = sorted(path.stem for path in suite_file("auth").parent.glob("*.hurl"))
    assert present == FILES
    assert sum(len(parse(suite_file(name).read_text())) for name in FILES) == 154


def test_a_missing_suite_is_a_clear_skip_or_a_failure_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "SUITE", tmp_path / "nowhere")
    monkeypatch.delenv("PROW_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="the RealWorld suite is not at"):
        suite_file("auth")
    monkeypatch.setenv("PROW_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="PROW_REQUIRE_SERVICES=1"):
        suite_file("auth")


# -- the runner itself: it must fail when an answer is wrong -----------------------------------


def tiny_app() -> App:
    app = App()

    @app.get("/items/{number}")
    async def item(number: int) -> dict[str, Any]:
        return {"item": {"id": number, "tags": ["a", "b"], "note": None, "ok": True}}

    return app


PASSING = """\
# A comment
GET {{host}}/items/{{n}}
Accept: application/json
HTTP 200
[Captures]
id: jsonpath "$.item.id"
[Asserts]
jsonpath "$.item.id" == {{id}}
jsonpath "$['item'].tags" count == 2
jsonpath "$.item.tags" contains "b"
jsonpath "$.item.tags[1]" matches "^\\\\w$"
jsonpath "$.item.note" == null
jsonpath "$.item.ok" == true
jsonpath "$.item.ok" != 1
jsonpath "$.item.missing" not exists
jsonpath "$.item.tags" not isEmpty
header "content-type" startsWith "application/json"
status >= 200
"""


def test_the_runner_checks_captures_and_predicates(tmp_path: Path) -> None:
    with TestClient(tiny_app()) as client:
        result = run_text(tmp_path, client, PASSING, n=7)
    assert (result.passed, result.total, result.failures) == (1, 1, [])


def test_the_runner_reports_the_failing_request_and_line(tmp_path: Path) -> None:
    failing = PASSING.replace('contains "b"', 'contains "z"').replace("HTTP 200", "HTTP 201")
    failing = failing.replace('"$.item.tags" not isEmpty', '"$.item.nothing" not isEmpty')
    again = "\nGET {{host}}/items/8\nHTTP 200\n"
    with TestClient(tiny_app()) as client:
        result = run_text(tmp_path, client, failing + again, n=7)
    assert (result.passed, result.total) == (0, 2)  # a failing entry stops the file
    assert result.failures[:4] == [
        "case.hurl:2: GET http://testserver/items/7",
        "  HTTP 201: got 200",
        '  line 10: jsonpath "$.item.tags" contains "z" (got ["a", "b"])',
        '  line 16: jsonpath "$.item.nothing" not isEmpty (got nothing)',  # no value: a failure
    ]
    assert result.failures[4].startswith('  answer: 200 {"item":')


@pytest.mark.parametrize(
    "text",
    [
        "GET /a\n[QueryStringParams]\nx: 1\nHTTP 200\n",  # a request section it does not know
        'GET /a\nHTTP 200\n[Asserts]\njsonpath "$..x" exists\n',  # a JSONPath it cannot do
        'GET /a\nHTTP 200\n[Asserts]\njsonpath "$.x" isPrime\n',
        "GET /a\n",  # no status line
    ],
)
def test_the_runner_refuses_what_it_does_not_understand(text: str) -> None:
    with pytest.raises(HurlSyntaxError):
        parse(text)


def run_text(tmp_path: Path, client: httpx.Client, text: str, **variables: Any) -> FileResult:
    (tmp_path / "case.hurl").write_text(text)
    return run(client, tmp_path / "case.hurl", {"host": "http://testserver", **variables})
