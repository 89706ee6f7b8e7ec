"""Storage for the question log and feedback: SQLite (default) or PostgreSQL, one code path.

`Database` holds the SQL (SQLAlchemy Core) and the migrations (Alembic); `BatchWriter` keeps writes
off the request path. `assistant.qlog.QuestionLog` is the facade callers use.
"""

from __future__ import annotations

from .database import DATABASE_URL_ENV, DB_FILENAME, HEAD_REVISION, Database, describe, resolve_url
from .errors import QuestionLogError
from .schema import SCHEMA_VERSION
from .shared import SharedState, SharedStateError, SharedStateHandle
from .writer import BatchWriter, WriterStats

__all__ = [
    "DATABASE_URL_ENV",
    "DB_FILENAME",
    "HEAD_REVISION",
    "SCHEMA_VERSION",
    "BatchWriter",
    "Database",
    "QuestionLogError",
    "SharedState",
    "SharedStateError",
    "SharedStateHandle",
    "WriterStats",
    "describe",
    "resolve_url",
]
