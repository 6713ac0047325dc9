"""Migration steps for the auth tables that autogenerate cannot write on its own.

``username_key`` (the canonical form of each username, see ``_identity``) is computed in
Python (NFKC and Unicode case folding, which SQL cannot do), and is unique and NOT NULL: an
existing user table needs it filled from each row before the constraints go on. In the
migration that adds it::

    from prow.auth import add_username_key, drop_username_key

    def upgrade() -> None:
        add_username_key("auth_user")

    def downgrade() -> None:
        drop_username_key("auth_user")
"""

from __future__ import annotations

import sqlalchemy as sa

from prow.auth._identity import canonical_username

__all__ = ["add_username_key", "drop_username_key"]

_KEY_TYPE = sa.String(150)


def add_username_key(table: str) -> None:
    """Add ``username_key`` to the user ``table``: filled, then NOT NULL and unique.

    Two existing users whose names differ only in case or Unicode form (``Alice`` and
    ``alice``) stop the migration with :class:`~prow.db.MigrationError` naming both: rename
    one, then migrate again.
    """
    from alembic import op

    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column("username_key", _KEY_TYPE, nullable=True))
    rows = sa.table(table, sa.column("id"), sa.column("username"), sa.column("username_key"))
    connection = op.get_bind()
    owners: dict[str, tuple[object, str]] = {}
    query = sa.select(rows.c.id, rows.c.username).order_by(rows.c.id)
    for row_id, name in connection.execute(query).all():
        key = canonical_username(name)
        if key in owners:
            _refuse_duplicate(table, owners[key], (row_id, name))
        owners[key] = (row_id, name)
        connection.execute(rows.update().where(rows.c.id == row_id).values(username_key=key))
    with op.batch_alter_table(table) as batch:
        batch.alter_column("username_key", existing_type=_KEY_TYPE, nullable=False)
        batch.create_unique_constraint(batch.f(f"uq_{table}_username_key"), ["username_key"])


def drop_username_key(table: str) -> None:
    """Undo :func:`add_username_key` on ``table``."""
    from alembic import op

    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(batch.f(f"uq_{table}_username_key"), type_="unique")
        batch.drop_column("username_key")


def _refuse_duplicate(table: str, first: tuple[object, str], second: tuple[object, str]) -> None:
    from prow.db import MigrationError

    raise MigrationError(
        f"{table} has users {first[1]!r} (id {first[0]}) and {second[1]!r} (id {second[0]}), "
        "one account once case and Unicode forms are ignored: rename one of them, then run "
        "`prow migrate` again"
    )
