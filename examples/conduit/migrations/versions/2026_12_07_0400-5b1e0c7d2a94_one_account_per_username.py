"""one account per username

Revision ID: 5b1e0c7d2a94
Revises: e36ad467fc1a
Create Date: 2026-12-07 04:00:00

Usernames are told apart by their canonical form (NFKC, case-folded) in a unique
username_key column, filled here from the existing rows: see prow.auth.add_username_key.
"""

from __future__ import annotations

from collections.abc import Sequence

from prow.auth import add_username_key, drop_username_key

revision: str = "5b1e0c7d2a94"
down_revision: str | Sequence[str] | None = "e36ad467fc1a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_username_key("users")


def downgrade() -> None:
    drop_username_key("users")
