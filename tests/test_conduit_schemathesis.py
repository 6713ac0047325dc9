"""schemathesis, every check and phase, against the Conduit: no 500, nothing its document denies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from _conduit import conduit_app, conduit_database
from _schemathesis import run_schemathesis
from prow.testing import TestClient

#: Valid requests the Conduit answers 422 for reasons no JSON Schema can state: prow.auth
#: refuses usernames and e-mail addresses with invisible characters, and usernames mixing
#: the letters of two scripts (look-alike accounts); the answer names the field.
ACCOUNT_RULES = {"POST /api/users": [422], "PUT /api/user": [422]}


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: Any) -> Iterator[str]:
    yield from conduit_database("sqlite", tmp_path_factory)


def test_the_conduit_keeps_its_openapi_document(database_url: str) -> None:
    app = conduit_app(database_url)
    user = {"username": "fuzzer", "email": "fuzzer@example.com", "password": "fuzzer-secret"}
    with TestClient(app) as client:
        answer = client.post("/api/users", json={"user": user})
        assert answer.status_code == 201, answer.text
        token = answer.json()["user"]["token"]
    # As a registered user: the writes (articles, comments, follows) run to the database.
    report = run_schemathesis(app, headers={"Authorization": f"Token {token}"}, allow=ACCOUNT_RULES)
    assert "stateful" in report.phases and report.stateful_links > 0
    assert not report.failures and not report.errors, report.summary()
