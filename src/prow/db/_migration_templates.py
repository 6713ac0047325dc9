"""The files prow writes into a project's ``migrations/`` folder the first time it is used.

``env.py`` is the project's own from then on: a few lines that call ``prow.db.run_env()``, whose
keyword arguments go to Alembic's ``context.configure()`` (for example an ``include_object``
filter). ``script.py.mako`` is the template of each revision file.
"""

from __future__ import annotations

ENV_PY = '''\
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
'''

SCRIPT_PY_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''
