"""``prow tasks list / retry / purge`` and ``prow worker``'s mistakes, driven through click."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid
from pathlib import Path

from click.testing import CliRunner, Result

from prow.cli import load_app, main
from prow.db import Database
from prow.tasks import Tasks

SOURCE = """
from prow import App
from prow.db import Database
from prow.tasks import Tasks, task


@task(name="cli.{name}.fails")
async def fails(n: int) -> None:
    raise ValueError(f"nope {{n}}")


tasks = Tasks()
app = App(extensions=[Database({url!r}), tasks])
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_list_retry_and_purge(tmp_path: Path) -> None:
    name = f"proj_{uuid.uuid4().hex[:8]}"
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(SOURCE.format(name=name, url=url)))
    spec = f"{path}:app"
    app = load_app(spec)
    tasks = app.extension(Tasks)

    fails = sys.modules[name].fails  # the module load_app imported

    async def fail_one() -> None:
        async with app.running():
            await app.extension(Database).create_all(*tasks.tables())
            await fails.enqueue(7)
            assert await tasks.run_pending() == 1

    asyncio.run(fail_one())

    listed = invoke("tasks", "list", "--state", "failed", "--errors", "--app", spec)
    assert listed.exit_code == 0, listed.output
    assert "failed" in listed.output and f"cli.{name}.fails" in listed.output
    assert "ValueError: nope 7" in listed.output
    assert "no tasks" in invoke("tasks", "list", "--state", "queued", "--app", spec).output

    retried = invoke("tasks", "retry", "--app", spec)
    assert retried.exit_code == 0 and "1 tasks queued again" in retried.output
    assert "queued" in invoke("tasks", "list", "--app", spec).output

    purged = invoke("tasks", "purge", "--yes", "--app", spec)
    assert purged.exit_code == 0 and "1 tasks deleted" in purged.output
    assert "no tasks" in invoke("tasks", "list", "--app", spec).output


def test_an_app_without_tasks_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / f"proj_{uuid.uuid4().hex[:8]}.py"
    path.write_text("from prow import App\napp = App()\n")
    for command in (["worker"], ["tasks", "list"]):
        result = invoke(*command, "--app", f"{path}:app")
        assert result.exit_code == 1, result.output
        assert "the app has no Tasks" in result.output
        assert "Traceback" not in result.output
