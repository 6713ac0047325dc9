"""The benchmark suite's quick mode: every app answers every endpoint correctly, so it never rots."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # ``bench`` lives at the repository root, outside the src layout
    sys.path.insert(0, _ROOT)

from bench._cases import CASES, Answer, BenchError, Case  # noqa: E402
from bench._drive import quick_check  # noqa: E402
from bench.apps import APPS  # noqa: E402
from bench.run import missing  # noqa: E402


@pytest.mark.parametrize("app", list(APPS))
def test_app_answers_every_endpoint(app: str) -> None:
    gone = missing(app)
    if gone is not None:
        pytest.skip(f"{app}: package {gone!r} is not installed (pip install {gone})")
    quick_check(app, repeats=2)


def test_wrong_body_fails_loudly() -> None:
    answer = Answer(200, {"content-type": "application/json"}, b'{"message": "Hello"}')
    with pytest.raises(BenchError, match="body"):
        CASES["json"].check("x", answer)


def test_wrong_status_and_media_fail_loudly() -> None:
    with pytest.raises(BenchError, match="status 500"):
        CASES["plaintext"].check("x", Answer(500, {}, b"boom"))
    text = Answer(200, {"content-type": "text/html"}, b"Hello, World!")
    with pytest.raises(BenchError, match="content-type"):
        CASES["plaintext"].check("x", text)


def test_error_case_accepts_only_listed_statuses() -> None:
    case = Case("bad", "GET", "/users/abc", statuses=(404, 422))
    case.check("x", Answer(404, {}, b""))
    with pytest.raises(BenchError):
        case.check("x", Answer(500, {}, b""))


def test_quick_mode_exit_code() -> None:
    from bench.run import quick

    assert quick(["bare"]) == 0
