"""The question log as of schema version 2: questions (with answer_id, context_used) and feedback.

A SQLite file from before Alembic already has these tables (version 2) or the version-1
questions table (no answer_id/context_used, a CHECK on channel without 'wechat'). Such a file is
adopted here rather than recreated: version 2 is left as it is, version 1 is rebuilt and its rows
copied with their ids. A new database of either backend simply gets the tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assistant.store.schema import feedback, questions

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_V1_COLUMNS = "id, created, question, chunk_ids, scores, matched, kind, latency_ms, channel, session_id"


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    existing = set(inspector.get_table_names())
    legacy_v1 = "questions" in existing and "answer_id" not in {c["name"] for c in inspector.get_columns("questions")}
    if legacy_v1:
        # Version 1's CHECK on channel cannot be altered in SQLite: rebuild and copy, keeping ids.
        op.execute("ALTER TABLE questions RENAME TO questions_v1")
        op.execute("DROP INDEX IF EXISTS questions_created")
        existing.discard("questions")
    if "questions" not in existing:
        questions.create(bind)  # with its indexes, exactly as the store's metadata says
    if "feedback" not in existing:
        feedback.create(bind)
    if legacy_v1:
        op.execute(f"INSERT INTO questions ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM questions_v1")
        op.execute("DROP TABLE questions_v1")


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("questions")
