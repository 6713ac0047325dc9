"""The benchmark quick mode: every app answers every endpoint correctly, so bench/ never rots."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # ``bench`` lives at the repository root, outside the src layout
    sys.path.insert(0, _ROOT)

from bench._cases import CASES, DB_CASES, Answer, BenchError, Case  # noqa: E402
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


def test_db_cases_check_every_field_of_every_row() -> None:
    row = {"id": 42, "name": "row 42", "price": 63.0, "stock": 0, "active": True}
    good = Answer(200, {"content-type": "application/json"}, json.dumps(row).encode())
    DB_CASES["db"].check("x", good)
    wrong = Answer(
        200, {"content-type": "application/json"}, json.dumps({**row, "stock": 1}).encode()
    )
    with pytest.raises(BenchError, match="body"):
        DB_CASES["db"].check("x", wrong)
    page = DB_CASES["db_list"].expect
    assert [item["id"] for item in page["items"]] == list(range(1, 21))
    assert (page["total"], page["limit"], page["offset"]) == (100, 20, 0)


def test_quick_mode_uses_sqlite_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import _db

    monkeypatch.setenv(_db.ENV, "postgresql")
    quick_check("bare", repeats=1)  # forces SQLite: the quick mode needs no database server
    assert os.environ[_db.ENV] == "sqlite"
    assert _db.SQLITE_FILE.exists()


def test_quick_mode_exit_code() -> None:
    from bench.run import quick

    assert quick(["bare"]) == 0


def test_report_renders_table_targets_and_environment(tmp_path: Path) -> None:
    from bench.report import write_report

    endpoints = ("plaintext", "json", "users", "items")
    raw = {
        "n": 500,
        "machine": {"python": "CPython 3.11", "nproc": "2"},
        "versions": {"prow": "0.1.0"},
        "instructions": {
            "bare": dict(zip(endpoints, (16_000, 18_000, 37_000, 79_000), strict=True)),
            "prow": dict(zip(endpoints, (40_000, 60_000, 80_000, 120_000), strict=True)),
        },
        "import_ms": {"bare": 20.0, "prow": 40.0},
    }
    write_report(raw, tmp_path, chart=False)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| plaintext | 16.0k | 40.0k (2.5×) | ≤ 48.0k | **pass** |" in text
    assert "| json | 18.0k | 60.0k (3.3×) | ≤ 54.0k | **FAIL** (+11%) |" in text
    assert "| nproc | 2 |" in text and "| prow | 0.1.0 |" in text


def test_report_judges_db_against_bare(tmp_path: Path) -> None:
    from bench.report import write_report

    raw = {
        "n": 500,
        "db_n": 150,
        "machine": {"nproc": "2"},
        "versions": {"prow": "0.1.0"},
        "instructions": {"bare": {"json": 18_000}, "prow": {"json": 50_000}},
        "db_instructions": {
            "sqlite": {
                "bare": {"db": 900_000, "db_orm": 1_500_000, "db_list": 1_500_000},
                "prow": {"db": 950_000, "db_orm": 1_800_000, "db_list": 2_000_000},
                "django": {"db": 800_000},
            },
            "postgresql": {
                "bare": {"db": 1_000_000, "db_list": 1_600_000},
                "prow": {"db": 1_200_000, "db_list": 2_100_000},
            },
        },
    }
    write_report(raw, tmp_path, chart=False)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| db | 900.0k | 950.0k (1.06×) | 800.0k (0.89×) | ≤ 1.1× bare | **pass** |" in text
    assert "| db_orm | 1.50M | 1.80M (1.20×) | — | ≤ 1.1× bare | **FAIL** (1.20×, +9%) |" in text
    assert "| db_list | 1.50M | 2.00M (1.33×) | — | — | — |" in text
    assert "| db | 1.00M | 1.20M (1.20×) | ≤ 1.1× bare | **FAIL** (1.20×, +9%) |" in text
    assert "Not measured on postgresql (driver not installed): django." in text
    assert "(N = 150)" in text


def test_wrk_script_posts_the_json_body() -> None:
    from bench.wrk import _lua

    script = _lua(CASES["items"])
    assert 'wrk.method = "POST"' in script
    assert 'wrk.headers["content-type"] = "application/json"' in script
    assert '"variants"' in script


def test_report_compares_the_realworld_apps_with_bare_and_prow(tmp_path: Path) -> None:
    from bench.report import write_report

    raw = {
        "n": 500,
        "rw_n": 20,
        "machine": {"nproc": "2"},
        "versions": {"prow": "0.1.0"},
        "instructions": {"bare": {"json": 18_000}, "prow": {"json": 50_000}},
        "rw_instructions": {
            "conduit": {"rw_list": 3_000_000, "rw_article": 1_500_000},
            "rw_bare": {"rw_list": 2_000_000, "rw_article": 1_000_000},
            "rw_ninja": {"rw_list": 6_000_000, "rw_article": 1_200_000},
        },
    }
    write_report(raw, tmp_path, chart=False)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| endpoint | bare | prow | Django Ninja | prow vs Django Ninja |" in text
    assert "| rw_list | 2.00M | 3.00M (1.50×) | 6.00M (3.00×) | 2.00× cheaper |" in text
    assert "| rw_article | 1.00M | 1.50M (1.50×) | 1.20M (1.20×) | 1.25× dearer |" in text
    assert "| rw_comment | — | — | — | — |" in text


def test_realworld_answers_are_checked_field_by_field() -> None:
    from bench._cases import RW_CASES
    from bench.apps import _realworld as rw

    article = {**rw.expected_article(7, body=True), "createdAt": "2026-01-01T00:00:00Z"}
    article["updatedAt"] = article["createdAt"]
    good = Answer(
        200, {"content-type": "application/json"}, json.dumps({"article": article}).encode()
    )
    RW_CASES["rw_article"].check("x", good)
    wrong = {**article, "favoritesCount": 4}
    bad = Answer(200, {"content-type": "application/json"}, json.dumps({"article": wrong}).encode())
    with pytest.raises(BenchError, match="want"):
        RW_CASES["rw_article"].check("x", bad)


def test_http_db_measures_each_app_on_what_it_serves() -> None:
    from bench.wrk import HTTP_DB_ENDPOINTS, serves

    assert {"db", "db_orm", "queries", "cached", "rw_article"} <= set(HTTP_DB_ENDPOINTS)
    assert serves("bare", "db") and serves("bare", "fortunes") and not serves("bare", "rw_list")
    assert serves("conduit", "rw_comment") and not serves("conduit", "db")
    assert all(serves(app, "queries") for app in ("prow", "fastapi", "litestar", "flask"))


def test_report_judges_http_db_targets(tmp_path: Path) -> None:
    from bench.report import write_report

    def run(rps: float) -> dict[str, float]:
        return {"rps": rps, "p99_ms": 40.0}

    raw = {
        "n": 500,
        "machine": {"nproc": "2"},
        "versions": {"prow": "0.1.0"},
        "instructions": {"bare": {"json": 18_000}, "prow": {"json": 50_000}},
        "te_instructions": {
            "bare": {"fortunes": 1_000_000},
            "prow": {"fortunes": 1_300_000},
        },
        "http_db": {
            "granian": {
                "bare": {"db": run(1000), "queries": run(100)},
                "prow": {"db": run(900), "queries": run(90)},
                "fastapi": {"db": run(500), "queries": run(30)},
                "django": {"db": run(800), "queries": run(70)},
                "conduit": {"rw_article": run(300)},
                "rw_bare": {"rw_article": run(600)},
                "rw_ninja": {"rw_article": run(150)},
            }
        },
    }
    write_report(raw, tmp_path, chart=False)
    text = (tmp_path / "RESULTS.md").read_text()
    assert (
        "| queries | 100, 40 | 90 (0.90×), 40 | 30 (0.30×), 40 | 70 (0.70×), 40 | 1.29× |" in text
    )
    assert "| 1.29× | 3.00× |" in text  # prow ÷ django, prow ÷ fastapi on /queries
    assert "| queries: prow ÷ django req/s | 1.29 | ≥ 1.5 | **FAIL** |" in text
    assert "| queries: prow ÷ fastapi req/s | 3.00 | ≥ 2 | **pass** |" in text
    assert "| fortunes: prow ÷ bare instructions | 1.30 | ≤ 1.2 | **FAIL** |" in text
    # the RealWorld endpoints in a table of their own: prow's is its Conduit, Django's Ninja
    assert "| endpoint | conduit | rw_bare | rw_ninja | prow ÷ django | prow ÷ fastapi |" in text
    assert "| rw_article | 300 (0.50×), 40 | 600, 40 | 150 (0.25×), 40 | 2.00× | — |" in text
