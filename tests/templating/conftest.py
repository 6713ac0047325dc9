"""Fixtures for template tests: a folder of templates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a template file under ``tmp_path/templates``; returns the folder."""
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)

    def write_template(name: str, text: str) -> Path:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return folder

    return write_template
