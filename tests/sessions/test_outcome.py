"""Session writes follow the request's outcome (issue 19): a failed request keeps none of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from prow import App, HTTPError, Request
from prow.db import Database, DBSession, Model
from prow.sessions import MemorySessionStore, Sessions
from prow.templating import flash, get_flashed_messages
from prow.testing import TestClient

SECRET = "a-test-secret-key-that-is-long-enough-0123456789"


class Tag(Model):
    __tablename__ = "session_outcome_tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


@pytest.mark.parametrize("store", [None, MemorySessionStore()], ids=["cookie", "memory"])
def test_a_flash_before_a_failed_commit_is_not_shown(tmp_path: Path, store: object) -> None:
    app = App(
        secret_key=SECRET,
        extensions=[Database(f"sqlite:///{tmp_path}/o.sqlite3"), Sessions(store)],  # type: ignore[arg-type]
    )

    @app.on_startup
    async def tables() -> None:
        await app.extension(Database).create_all(Tag)

    @app.post("/tags", csrf=False)  # a test client, not a browser form
    async def add(request: Request, name: str, db: DBSession) -> str:
        db.add(Tag(name=name))
        flash(request, f"{name} added")
        request.session["last"] = name
        return "ok"  # the commit runs after this: a duplicate name fails there

    @app.post("/refused", csrf=False)
    async def refused(request: Request) -> None:
        flash(request, "saved")
        raise HTTPError(422, "not saved after all")

    @app.get("/next")
    async def next_page(request: Request) -> dict[str, object]:
        return {"flashes": get_flashed_messages(request), "last": request.session.get("last")}

    with TestClient(app) as client:
        assert client.post("/tags?name=red").status_code == 200
        assert client.get("/next").json() == {"flashes": ["red added"], "last": "red"}
        duplicate = client.post("/tags?name=red")
        assert duplicate.status_code == 409
        assert client.get("/next").json() == {"flashes": [], "last": "red"}
        assert client.post("/refused").status_code == 422
        assert client.get("/next").json() == {"flashes": [], "last": "red"}
