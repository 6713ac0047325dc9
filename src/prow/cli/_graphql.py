"""``prow graphql-schema``: the app's GraphQL schema in SDL, for clients and code generators."""

from __future__ import annotations

from pathlib import Path

import click

from prow._exceptions import ConfigurationError
from prow.cli._discovery import app_option, load_app
from prow.cli._errors import CLIError

__all__ = ["graphql_schema"]


@click.command("graphql-schema")
@app_option
@click.option(
    "--path",
    "endpoint",
    metavar="PATH",
    help="Which GraphQL endpoint, when the app has several (e.g. /graphql).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the schema to FILE instead of standard output.",
)
def graphql_schema(app_path: str | None, endpoint: str | None, output: Path | None) -> None:
    """Print the app's GraphQL schema in the schema definition language (SDL).

    \b
    Examples:
      prow graphql-schema > schema.graphql
      prow graphql-schema --path /api/graphql -o schema.graphql
    """
    app = load_app(app_path)
    try:
        from prow.graphql import GraphQL
    except ModuleNotFoundError as exc:
        raise CLIError(str(exc)) from None
    found = [ext for ext in app.extensions if isinstance(ext, GraphQL)]
    if endpoint is not None:
        found = [ext for ext in found if ext.path == endpoint]
    if not found:
        where = f" at {endpoint}" if endpoint else ""
        raise CLIError(f"the app has no GraphQL endpoint{where}; install GraphQL(...) first")
    if len(found) > 1:
        paths = ", ".join(ext.path for ext in found)
        raise CLIError(f"the app has several GraphQL endpoints ({paths}); choose one with --path")
    try:
        text = found[0].sdl() + "\n"
    except ConfigurationError as exc:
        raise CLIError(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"Wrote {output}")
