"""State shared by replicas: admin sessions and short-lived keys (issue 22).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assistant.store.schema import admin_sessions, ephemeral

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "admin_sessions" not in existing:
        admin_sessions.create(op.get_bind())
    if "ephemeral" not in existing:
        ephemeral.create(op.get_bind())


def downgrade() -> None:
    op.drop_table("ephemeral")
    op.drop_table("admin_sessions")
