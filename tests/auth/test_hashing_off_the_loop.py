"""Password hashing never runs on the event loop: the sync calls refuse, the async ones thread."""

from __future__ import annotations

import anyio
import pytest

from auth.conftest import PASSWORD
from prow.auth import User, hash_password, verify_password


def test_hashing_is_refused_on_a_running_event_loop() -> None:
    user = User(username="kim")

    async def on_the_loop() -> list[str]:
        refused = []
        for call in (
            lambda: hash_password(PASSWORD),
            lambda: verify_password(PASSWORD, "$argon2id$..."),
            lambda: user.set_password(PASSWORD),
            lambda: user.check_password(PASSWORD),
        ):
            with pytest.raises(RuntimeError, match="would stall every request") as info:
                call()
            refused.append(str(info.value).split(" ", 1)[0])
        return refused

    assert anyio.run(on_the_loop) == [
        "hash_password()",
        "verify_password()",
        "user.set_password()",
        "user.check_password()",
    ]


def test_the_async_methods_hash_in_a_worker_thread() -> None:
    user = User(username="kim")

    async def on_the_loop() -> tuple[bool, bool]:
        await user.aset_password(PASSWORD)
        return await user.acheck_password(PASSWORD), await user.acheck_password("not it")

    assert anyio.run(on_the_loop) == (True, False)
    assert user.password.startswith("$argon2id$") and user.check_password(PASSWORD)
