"""With prow.tasks installed, send_mail enqueues a task that exists only if the request commits."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from prow import App, HTTPError, Request
from prow.db import Database, DBSession, Model
from prow.mail import Mail, send_mail
from prow.tasks import Tasks
from prow.testing import TestClient


class Signup(Model):
    __tablename__ = "mail_test_signup"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200))


def test_mail_goes_through_a_task_that_follows_the_commit(tmp_path: Path) -> None:
    tasks = Tasks()
    app = App(extensions=[Database(f"sqlite:///{tmp_path}/t.sqlite3"), tasks, Mail()])

    @app.on_startup
    async def tables() -> None:
        await app.extension(Database).create_all(Signup, *tasks.tables())

    @app.post("/signups")
    async def sign_up(request: Request, email: str, db: DBSession) -> dict[str, int]:
        db.add(Signup(email=email))
        sent = await send_mail(request, "Welcome", "Hello!", to=email)
        if email.startswith("fail"):
            raise HTTPError(409, "rolled back")  # the transaction, and the task, are dropped
        return {"queued": sent}

    with TestClient(app) as client:
        assert client.post("/signups?email=ada@example.com").json() == {"queued": 1}
        assert client.post("/signups?email=fail@example.com").status_code == 409
        outbox = app.extension(Mail).outbox
        assert outbox == []  # queued, not sent yet
        assert client.portal.call(tasks.run_pending) == 1  # what a worker does
    (message,) = outbox
    assert (message.subject, message.to) == ("Welcome", ["ada@example.com"])


def test_use_tasks_false_sends_in_the_request(tmp_path: Path) -> None:
    tasks = Tasks()
    app = App(
        extensions=[Database(f"sqlite:///{tmp_path}/t.sqlite3"), tasks, Mail(use_tasks=False)]
    )

    @app.post("/")
    async def now(request: Request) -> None:
        await send_mail(request, "Now", "b", to="ada@example.com")

    with TestClient(app) as client:
        client.post("/")
    assert [m.subject for m in app.extension(Mail).outbox] == ["Now"]
