"""one account per username

Revision ID: 8c3f9a61d0e5
Revises: 6221d7818610
Create Date: 2026-12-07 04:00:00

Usernames are told apart by their canonical form (NFKC, case-folded) in a unique
username_key column, filled here from the existing rows: see prow.auth.add_username_key.
"""

from __future__ import annotations

from collections.abc import Sequence

from prow.auth import add_username_key, drop_username_key

revision: str = "8c3f9a61d0e5"
down_revision: str | Sequence[str] | None = "6221d7818610"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_username_key("auth_user")


def downgrade() -> None:
    drop_username_key("auth_user")
