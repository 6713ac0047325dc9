"""Renamed public names: one name per thing, the old spellings kept with a DeprecationWarning."""

from __future__ import annotations

import importlib

import pytest

import prow
import prow.db
import prow.forms
import prow.ratelimit
import prow.sessions
import prow.templating

RENAMED = [
    # The database session's type; prow.sessions is the browser session.
    ("prow.db", "Session", prow.db.DBSession),
    # Two batteries each had a MemoryStore and a RedisStore, different classes.
    ("prow.sessions", "MemoryStore", prow.sessions.MemorySessionStore),
    ("prow.sessions", "RedisStore", prow.sessions.RedisSessionStore),
    ("prow.sessions", "DatabaseStore", prow.sessions.DatabaseSessionStore),
    ("prow.ratelimit", "MemoryStore", prow.ratelimit.MemoryRateLimitStore),
    ("prow.ratelimit", "RedisStore", prow.ratelimit.RedisRateLimitStore),
    # csrf_token lives in prow, csrf_input in prow.forms.
    ("prow.forms", "csrf_token", prow.csrf_token),
    ("prow.templating", "csrf_token", prow.csrf_token),
    ("prow.templating", "csrf_input", prow.forms.csrf_input),
]


@pytest.mark.parametrize(("module", "old", "new"), RENAMED)
def test_an_old_name_still_works_and_names_its_replacement(
    module: str, old: str, new: object
) -> None:
    namespace = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=rf"{module}\.{old} is deprecated; use prow\."):
        assert getattr(namespace, old) is new
    assert old not in namespace.__all__


def test_the_warning_points_at_the_import() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        from prow.sessions import MemoryStore  # noqa: F401
    assert caught[0].filename == __file__


def test_the_stores_are_distinct_classes_with_distinct_names() -> None:
    assert prow.sessions.MemorySessionStore is not prow.ratelimit.MemoryRateLimitStore
    assert prow.sessions.RedisSessionStore is not prow.ratelimit.RedisRateLimitStore


@pytest.mark.parametrize("module", ["prow.db", "prow.sessions", "prow.forms", "prow.ratelimit"])
def test_unknown_names_still_raise_attribute_error(module: str) -> None:
    with pytest.raises(AttributeError, match=f"module '{module}' has no attribute 'Nope'"):
        getattr(importlib.import_module(module), "Nope")  # noqa: B009


def test_csrf_token_has_one_export() -> None:
    homes = [
        name
        for name in ("prow", "prow.forms", "prow.templating")
        if "csrf_token" in importlib.import_module(name).__all__
    ]
    assert homes == ["prow"]
