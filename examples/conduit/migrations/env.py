"""Alembic environment of this project, written by prow.

`prow makemigrations` and `prow migrate` (and the `alembic` command) run this file; prow's
`run_env()` does the work, so it stays up to date with prow. Tune it through the call below.
"""

from prow.db import run_env

run_env(
    # Migrations compare the database with prow.db.Model.metadata: every model whose module
    # the app imports (makemigrations(models=...) compares another MetaData instead).
    # Other options go to Alembic's context.configure(), e.g. to leave a table alone:
    # include_object=lambda obj, name, type_, reflected, compare_to: name != "legacy",
)
