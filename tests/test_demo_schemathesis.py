"""schemathesis, every check and phase, against the demo: no 500, nothing the document denies."""

from __future__ import annotations

import sys
from pathlib import Path

from _schemathesis import run_schemathesis
from prow.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ``examples`` lives at the repository root, outside the src layout
    sys.path.insert(0, str(ROOT))

from examples.demo.app import DEMO_USERS, create_app, prepare  # noqa: E402

#: Valid requests the demo answers 400 for reasons no schema can state: wrong credentials
#: (OAuth2's invalid_grant, RFC 6749 section 5.2) and expired or forged refresh tokens.
CREDENTIAL_CHECKS = {
    name: [400] for name in ("POST /auth/login", "POST /auth/token", "POST /auth/refresh")
}
#: Valid sign-ups the demo refuses for reasons no schema can state: prow.auth's password
#: strength rules (common, too like the username) and its username rules (invisible or
#: look-alike characters, a name taken in another case or Unicode form is 409).
SIGNUP_RULES = {"POST /api/signup": [422]}


def test_the_demo_keeps_its_openapi_document(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    prepare(url)
    app = create_app(url)  # its own rate-limit counts: earlier tests' logins do not count
    with TestClient(app) as client:
        password = DEMO_USERS["alice"][0]
        answer = client.post("/auth/token", data={"username": "alice", "password": password})
        token = answer.json()["access_token"]
    # As alice, who may write: the create, update and delete routes run to the database.
    report = run_schemathesis(
        app,
        headers={"Authorization": f"Bearer {token}"},
        allow={**CREDENTIAL_CHECKS, **SIGNUP_RULES},
    )
    assert report.scenarios > 0
    assert not report.failures and not report.errors, report.summary()
