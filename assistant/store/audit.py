"""The library's audit trail and the quote counts the documents page shows, on the question log's database.

Kept beside `Database` rather than in it: these are the policy library's reads and writes (issue 21), sharing only the
engine, its write lock and the migrations.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .database import Database
from .schema import library_audit, questions


@dataclass(frozen=True)
class AuditEntry:
    created: str  # UTC, ISO 8601
    actor: str
    action: str
    doc_id: str
    detail: dict[str, Any]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def record(db: Database, actor: str, action: str, doc_id: str, detail: dict[str, Any] | None = None) -> AuditEntry:
    entry = AuditEntry(_now(), actor, action, doc_id, dict(detail or {}))
    row = {**entry.__dict__, "detail": json.dumps(entry.detail, ensure_ascii=False, default=str)}
    with db._write() as conn:
        conn.execute(library_audit.insert(), [row])
    return entry


def history(db: Database, limit: int = 50, doc_id: str | None = None) -> list[AuditEntry]:
    """The newest entries first."""
    stmt = sa.select(library_audit).order_by(library_audit.c.id.desc()).limit(limit)
    if doc_id is not None:
        stmt = stmt.where(library_audit.c.doc_id == doc_id)
    with db._read() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [AuditEntry(r["created"], r["actor"], r["action"], r["doc_id"], json.loads(r["detail"])) for r in rows]


def quotes_by_document(db: Database, since: str) -> Counter[str]:
    """How many questions since `since` (UTC ISO) were answered with at least one chunk of each document.

    A chunk id is `<doc-id>:<label>` for every document but the primary, whose ids have no colon (counted under "")."""
    stmt = sa.select(questions.c.chunk_ids).where(questions.c.created >= since, questions.c.matched == 1)
    counts: Counter[str] = Counter()
    with db._read() as conn:
        for (raw,) in conn.execute(stmt):
            try:
                ids = json.loads(raw)
            except ValueError:
                continue
            counts.update({str(i).split(":", 1)[0] if ":" in str(i) else "" for i in ids})
    return counts


__all__ = ["AuditEntry", "history", "quotes_by_document", "record"]
