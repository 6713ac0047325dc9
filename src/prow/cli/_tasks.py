"""``prow worker`` (run tasks) and ``prow tasks`` (list, retry and purge them).

``prow worker`` starts the app as a server would (its extensions and start-up hooks), then
claims and runs tasks until SIGTERM or Ctrl-C: it stops claiming, gives running tasks
``--grace`` seconds to finish, then cancels what is left, which goes back to the queue. A
second signal cancels at once. A worker killed outright (``kill -9``, a lost machine) leaves
leases that run out after ``--lease`` seconds; other workers then run those tasks again.
"""

from __future__ import annotations

import asyncio
import datetime
import signal
from typing import TYPE_CHECKING, Any

import click

from prow.cli._discovery import app_option, load_app
from prow.cli._errors import CLICommand, CLIError, CLIGroup

if TYPE_CHECKING:
    from prow import App
    from prow.tasks import Tasks

__all__ = ["tasks", "worker"]

_STATES = ("queued", "running", "succeeded", "failed")


def _tasks_of(app: App) -> Tasks:
    from prow.tasks import Tasks

    if not app.has_extension(Tasks):
        raise CLIError("the app has no Tasks: install it with App(extensions=[Tasks()])")
    return app.extension(Tasks)


@click.command(cls=CLICommand)
@click.option(
    "--queues",
    "-q",
    metavar="NAMES",
    help="Comma-separated queues to serve [default: every queue a task uses].",
)
@click.option("--concurrency", "-c", default=4, show_default=True, help="Tasks run at once.")
@click.option(
    "--grace",
    default=30.0,
    show_default=True,
    help="Seconds running tasks get to finish after SIGTERM before they go back to the queue.",
)
@click.option(
    "--lease",
    default=30.0,
    show_default=True,
    help="Seconds a claim lasts without a heartbeat: how soon a killed worker's tasks run again.",
)
@click.option("--no-schedule", is_flag=True, help="Do not start periodic tasks in this worker.")
@app_option
def worker(
    queues: str | None,
    concurrency: int,
    grace: float,
    lease: float,
    no_schedule: bool,
    app_path: str | None,
) -> None:
    """Run the app's tasks until SIGTERM or Ctrl-C.

    \b
    Examples:
      prow worker                          # every queue, 4 at a time
      prow worker -q emails,default -c 16  # two queues, 16 at a time
    """
    app = load_app(app_path)
    names = [name.strip() for name in queues.split(",") if name.strip()] if queues else None
    options = {
        "concurrency": concurrency,
        "grace": grace,
        "lease": lease,
        "schedule": not no_schedule,
    }
    asyncio.run(_work(app, names, options))


async def _work(app: App, queues: list[str] | None, options: dict[str, Any]) -> None:
    from prow.tasks import Worker

    async with app.running():
        running = Worker(_tasks_of(app), queues, **options)
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if running.stopping:
                running.abort()  # a second signal: give everything back now
            else:
                click.echo("worker: stopping (a second signal stops at once)", err=True)
                running.stop()

        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, on_signal)
        click.echo(
            f"worker: serving {', '.join(running.queues)} "
            f"({running.concurrency} at a time, {type(running.tasks.backend).__name__})",
            err=True,
        )
        await running.run()
        click.echo(f"worker: stopped after {running.processed} tasks", err=True)


@click.group(cls=CLIGroup)
def tasks() -> None:
    """List, retry and purge the app's tasks.

    \b
    Examples:
      prow tasks list --state failed       # dead-lettered tasks, with their error
      prow tasks retry                     # queue every failed task again
      prow tasks purge --state succeeded   # forget finished tasks
    """


@tasks.command("list", cls=CLICommand)
@click.option("--state", type=click.Choice(_STATES), help="Only tasks in this state.")
@click.option("--queue", help="Only tasks of this queue.")
@click.option("--limit", default=50, show_default=True, help="At most this many (oldest first).")
@click.option("--errors", is_flag=True, help="Print each task's last error (its traceback).")
@app_option
def list_tasks(
    state: str | None, queue: str | None, limit: int, errors: bool, app_path: str | None
) -> None:
    """List tasks: id, state, attempts, queue, task, when due."""
    from prow.tasks import TaskState

    async def run(store: Tasks) -> list[Any]:
        return await store.backend.list(TaskState(state) if state else None, queue, limit)

    found = _with_tasks(app_path, run)
    if not found:
        click.echo("no tasks")
    for info in found:
        message = info.message
        due = (
            message.eta.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
            if message.eta
            else "-"
        )
        click.echo(
            f"{message.id}  {info.state.value:<9}  {message.attempts}/{message.retries + 1}  "
            f"{message.queue:<10}  {message.task}  due {due}"
        )
        if errors and info.error:
            click.echo("    " + info.error.strip().replace("\n", "\n    "))


@tasks.command(cls=CLICommand)
@click.argument("ids", nargs=-1)
@app_option
def retry(ids: tuple[str, ...], app_path: str | None) -> None:
    """Queue failed tasks again (the IDS given, else every failed task)."""

    async def run(store: Tasks) -> int:
        return await store.backend.retry_failed(list(ids) if ids else None)

    click.echo(f"{_with_tasks(app_path, run)} tasks queued again")


@tasks.command(cls=CLICommand)
@click.option("--state", type=click.Choice(_STATES), help="Only tasks in this state.")
@click.option("--queue", help="Only tasks of this queue.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@app_option
def purge(state: str | None, queue: str | None, yes: bool, app_path: str | None) -> None:
    """Delete tasks that are not running (of --state / --queue, else all of them)."""
    from prow.tasks import TaskState

    what = f"{state or 'all'} tasks" + (f" of queue {queue}" if queue else "")
    if not yes:
        click.confirm(f"Delete {what}?", abort=True)

    async def run(store: Tasks) -> int:
        return await store.backend.purge(TaskState(state) if state else None, queue)

    click.echo(f"{_with_tasks(app_path, run)} tasks deleted")


def _with_tasks(app_path: str | None, action: Any) -> Any:
    app = load_app(app_path)

    async def main() -> Any:
        async with app.extensions_running():
            try:
                return await action(_tasks_of(app))
            except NotImplementedError as exc:
                raise CLIError(str(exc)) from None

    return asyncio.run(main())
