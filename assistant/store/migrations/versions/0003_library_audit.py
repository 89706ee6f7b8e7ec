"""The policy library's audit table (issue 21): who published, withdrew, deleted or undid which document, when.

A new table only: existing questions and feedback are untouched, so a database at 0002 upgrades
in place on either backend.

Revision ID: 0003
Revises: 0002 (shared state)
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assistant.store.schema import library_audit

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "library_audit" not in set(sa.inspect(op.get_bind()).get_table_names()):
        library_audit.create(op.get_bind())  # with its index, as the store's metadata says


def downgrade() -> None:
    op.drop_table("library_audit")
