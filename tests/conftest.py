from __future__ import annotations

import pytest

pytest_plugins = ["_browser"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
