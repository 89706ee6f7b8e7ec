"""The question log's tables, as SQLAlchemy Core metadata shared by the store and its migrations.

The shape is exactly the one SQLite files have had since schema version 2, so a file written
before the store existed is read as it is. Timestamps stay ISO 8601 text in UTC with a fixed
width: they sort chronologically as strings on both backends, and the dashboard's range queries
compare them as strings. On PostgreSQL those columns use the "C" collation so that comparison is
bytewise whatever locale the cluster was initialised with.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# Bumped with each migration that changes the question log's shape (not for tables added beside it,
# such as 0002's shared state); SQLite files also carry it as user_version,
# which is how files from before Alembic are told apart (1: no answer_id, 2: today's shape).
SCHEMA_VERSION = 2
CHANNELS = ("web", "api", "cli", "wechat")

metadata = sa.MetaData()

# SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

questions = sa.Table(
    "questions",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("created", _TIME, nullable=False),  # UTC, ISO 8601 with offset
    sa.Column("question", sa.Text, nullable=False),  # already redacted
    sa.Column("chunk_ids", sa.Text, nullable=False),  # JSON array of strings, best first
    sa.Column("scores", sa.Text, nullable=False),  # JSON array of numbers, parallel to chunk_ids
    sa.Column("matched", sa.Integer, sa.CheckConstraint("matched IN (0, 1)"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("channel", sa.Text, sa.CheckConstraint("channel IN ('web', 'api', 'cli', 'wechat')"), nullable=False),
    sa.Column("session_id", sa.Text),  # keyed hash, never the id as sent
    sa.Column("answer_id", sa.Text),  # opaque id handed out with the answer, quoted back by feedback
    sa.Column("context_used", sa.Integer, sa.CheckConstraint("context_used IN (0, 1)")),  # NULL: before v2
    sa.Index("questions_created", "created"),
    sa.Index("questions_answer_id", "answer_id", unique=True),
    sqlite_autoincrement=True,
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("answer_id", sa.Text, primary_key=True),  # questions.answer_id
    sa.Column("helpful", sa.Integer, sa.CheckConstraint("helpful IN (0, 1)"), nullable=False),
    sa.Column("comment", sa.Text),  # already redacted
    sa.Column("created", _TIME, nullable=False),  # first vote, UTC
    sa.Column("updated", _TIME, nullable=False),  # last vote (the one that counts), UTC
)

# ---- state shared by replicas (issue 22; migration 0002) ----------------------------------------
# Expiry times are seconds since the epoch (float): compared as numbers on both backends, and
# every replica's clock is NTP-synchronised anyway (WeChat's 300-second window needs it too).

admin_sessions = sa.Table(
    "admin_sessions",
    metadata,
    # sha256 of the random session id: the cookie's value itself is never stored, so a copy of
    # the database opens no dashboard.
    sa.Column("id_hash", sa.Text, primary_key=True),
    # A keyed hash of the admin token the session was opened under: a changed token invalidates
    # every session at once, on every replica, without anyone having to remember to revoke them.
    sa.Column("token_hash", sa.Text, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("revoked", sa.Integer, sa.CheckConstraint("revoked IN (0, 1)"), nullable=False, server_default="0"),
    sa.Index("admin_sessions_expires", "expires"),
)

# Short-lived keys by kind: WeChat nonces and MsgIds (replay), WeChat follow-up context, the
# lookup's saved searches. One table, because they share the one operation that matters: "put
# unless a live entry exists", which every replica must see at once.
ephemeral = sa.Table(
    "ephemeral",
    metadata,
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Index("ephemeral_expires", "expires"),
)

# What staff did to the policy library (issue 21): who, when, which document, what. Never pruned
# by the question log's retention: it is the record of what the assistant was told to know.
library_audit = sa.Table(
    "library_audit",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("created", _TIME, nullable=False),  # UTC, ISO 8601 with offset
    sa.Column("actor", sa.Text, nullable=False),  # who: the admin session and client address
    sa.Column("action", sa.Text, nullable=False),  # publish / withdraw / delete / undo / build_failed …
    sa.Column("doc_id", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),  # JSON object: title, version, reason …
    sa.Index("library_audit_created", "created"),
    sqlite_autoincrement=True,
)

__all__ = [
    "CHANNELS",
    "SCHEMA_VERSION",
    "admin_sessions",
    "ephemeral",
    "feedback",
    "library_audit",
    "metadata",
    "questions",
]
