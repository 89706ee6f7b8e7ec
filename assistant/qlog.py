"""Question log: every question asked, what it matched and how fast, for operators.

A facade over `assistant.store`: the same calls whether the log is the SQLite file in the data
directory (the default) or a PostgreSQL database shared by several replicas
(POLICY_ASSISTANT_DATABASE_URL). Questions are redacted inside `record`, so no caller can forget
to do it and no raw ID number ever reaches the database (or SQLite's write-ahead log).

`record` writes at once (the CLI, scripts and tests read their own writes); the web edge instead
hands entries to `writer()`, a bounded queue with one thread that writes them in batches, so a
slow or unreachable database never holds up an answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Self, get_args

from assistant.config import DATA_DIR_ENV, Settings, default_data_dir
from assistant.qlog_ids import (
    acceptable_answer_id,
    acceptable_session_id,
    new_answer_id,
    session_key,
)
from assistant.redact import redact_text
from assistant.store import DB_FILENAME, SCHEMA_VERSION, BatchWriter, Database, QuestionLogError, describe, resolve_url
from assistant.store.database import dumps_list, private_dir
from assistant.visible import visible_text

__all__ = [
    "DATA_DIR_ENV",
    "DB_FILENAME",
    "FEEDBACK_COMMENT_MAX",
    "SCHEMA_VERSION",
    "Channel",
    "Feedback",
    "LogEntry",
    "LogStats",
    "LoggedQuestion",
    "QuestionLog",
    "QuestionLogError",
    "acceptable_answer_id",
    "acceptable_session_id",
    "default_data_dir",
    "entry_from_answer",
    "new_answer_id",
    "register_writer",
]

FEEDBACK_COMMENT_MAX = 200  # characters, as typed

Channel = Literal["web", "api", "cli", "wechat"]
_CHANNELS: frozenset[str] = frozenset(get_args(Channel))



@dataclass(frozen=True)
class LogEntry:
    """One answered question. `created` is filled in by `QuestionLog.record` when left None."""

    question: str
    chunk_ids: tuple[str, ...]
    scores: tuple[float, ...]
    matched: bool
    kind: str
    latency_ms: float
    channel: Channel
    session_id: str | None = None
    created: str | None = None
    answer_id: str | None = None
    context_used: bool | None = None  # None: not known (rows logged before schema version 2)

    def __post_init__(self) -> None:
        # Callers naturally pass lists from the retriever; store tuples so the record stays
        # hashable and immutable as the type promises.
        object.__setattr__(self, "chunk_ids", tuple(str(c) for c in self.chunk_ids))
        object.__setattr__(self, "scores", tuple(float(s) for s in self.scores))
        if len(self.chunk_ids) != len(self.scores):
            raise ValueError(f"chunk_ids 与 scores 数量不一致：{len(self.chunk_ids)} ≠ {len(self.scores)}")
        if self.channel not in _CHANNELS:
            raise ValueError(f"未知渠道 {self.channel!r}，应为 web、api、cli 或 wechat")
        # SQLite stores NaN as NULL, which the NOT NULL column would reject at write time.
        if not math.isfinite(self.latency_ms) or self.latency_ms < 0:
            raise ValueError(f"耗时无效：{self.latency_ms!r}")
        if self.answer_id is not None and not acceptable_answer_id(self.answer_id):
            raise ValueError("答复编号格式无效")


@dataclass(frozen=True)
class Feedback:
    """A citizen's vote on one answer. One per answer: a later vote replaces the earlier one."""

    answer_id: str
    helpful: bool
    comment: str | None  # redacted, at most FEEDBACK_COMMENT_MAX characters
    created: str  # first vote, UTC ISO 8601
    updated: str  # the vote that counts, UTC ISO 8601


@dataclass(frozen=True)
class LoggedQuestion:
    """A logged question with the vote on its answer, if any (what the staff dashboard reads)."""

    entry: LogEntry
    feedback: Feedback | None


@dataclass(frozen=True)
class LogStats:
    """Summary for operators: volume, how often retrieval found something, what it found."""

    total: int
    matched: int
    matched_share: float  # 0.0 when the log is empty
    top_chunks: tuple[tuple[str, int], ...]  # (chunk id, number of questions it was returned for)
    helpful: int = 0  # answers voted 有帮助 (last vote per answer)
    unhelpful: int = 0  # answers voted 没帮助


def entry_from_answer(
    answer: Mapping[str, Any],
    *,
    latency_ms: float,
    channel: Channel,
    session_id: str | None = None,
    question: str | None = None,
    answer_id: str | None = None,
    context_used: bool | None = None,
) -> LogEntry:
    """The log entry for one answer in the contract's dict form (`Answer.to_dict()`).

    `question` defaults to the answer's own `question` field; either way `QuestionLog.record`
    redacts it again before it is stored.
    """
    measures = answer.get("measures") or []
    return LogEntry(
        question=str(answer.get("question", "") if question is None else question),
        chunk_ids=tuple(str(m.get("id", "")) for m in measures),
        scores=tuple(float(m.get("score", 0.0)) for m in measures),
        matched=bool(answer.get("matched", False)),
        kind=str(answer.get("kind", "")),
        latency_ms=max(float(latency_ms), 0.0),
        channel=channel,
        session_id=session_id,
        answer_id=answer_id,
        context_used=context_used,
    )


def _utc_iso(value: str | None) -> str:
    if value is None:
        return datetime.now(UTC).isoformat(timespec="microseconds")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"时间格式无效：{value!r}") from exc
    if parsed.tzinfo is None:  # naive timestamps in this project are UTC by convention
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="microseconds")


def _storable(text: str) -> str:
    # Lone surrogates (possible in JSON input, "\\ud800") cannot be encoded as UTF-8, and
    # PostgreSQL text cannot hold NUL: both become replacement characters on either backend.
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


# Writers of this process by database, so a vote can wait for its answer's row (see record_feedback).
_WRITERS: weakref.WeakValueDictionary[tuple[str, int], BatchWriter[LogEntry]] = weakref.WeakValueDictionary()
_WRITERS_LOCK = threading.Lock()


def register_writer(where: str, writer: BatchWriter[LogEntry]) -> None:
    """Let votes in this process wait for `writer` (which writes to the database `where`)."""
    with _WRITERS_LOCK:
        _WRITERS[(where, id(writer))] = writer


class QuestionLog:
    """The question log in the configured database. Safe to share across threads.

    `database_url`: None reads POLICY_ASSISTANT_DATABASE_URL (unset: the SQLite file
    `<data_dir>/questions.sqlite3`); "" forces that SQLite file; anything else is used as given.
    The data directory holds the session-hash key whichever database holds the rows.
    """

    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        configured = Settings.from_env().database_url if database_url is None else database_url
        self.url = resolve_url(self.data_dir, configured)
        self.where = describe(self.url)  # for messages: never with the password
        self.path = self.data_dir / DB_FILENAME  # the SQLite file, when that is the backend
        self._lock = threading.Lock()
        self._db: Database | None = None
        self._key = b""
        with self._lock:
            self._database()  # fail at start-up, not on the first question

    def _database(self) -> Database:
        """The open database; (re)opened lazily after close(). Call with the lock held."""
        if self._db is not None:
            return self._db
        try:
            private_dir(self.data_dir)
            self._key = session_key(self.data_dir)
        except OSError as exc:
            raise QuestionLogError(f"无法打开问题日志 {self.data_dir}：{exc}") from exc
        self._db = Database(self.url)
        return self._db

    def _open(self) -> Database:
        with self._lock:
            return self._database()

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.url.get_backend_name()

    def session_hash(self, session_id: str | None) -> str | None:
        """What is stored for a session id: its keyed hash, or None for an unacceptable one."""
        if not acceptable_session_id(session_id):
            return None
        assert isinstance(session_id, str)
        with self._lock:
            self._database()
            key = self._key
        digest = hmac.new(key, session_id.encode("ascii"), hashlib.sha256).digest()[:16]
        # Base32 rather than hex: a hex digest would now and then contain a long digit run that
        # looks like a phone number to a PII scanner.
        return base64.b32encode(digest).decode("ascii").rstrip("=").lower()

    def _row(self, entry: LogEntry) -> dict[str, Any]:
        stored = replace(
            entry,
            question=_storable(redact_text(entry.question)),
            kind=_storable(entry.kind),
            session_id=self.session_hash(entry.session_id),
            created=_utc_iso(entry.created),
        )
        return {
            "created": stored.created,
            "question": stored.question,
            "chunk_ids": dumps_list(stored.chunk_ids),
            "scores": dumps_list(stored.scores),
            "matched": int(stored.matched),
            "kind": stored.kind,
            "latency_ms": stored.latency_ms,
            "channel": stored.channel,
            "session_id": stored.session_id,
            "answer_id": stored.answer_id,
            "context_used": None if stored.context_used is None else int(stored.context_used),
        }

    def record(self, entry: LogEntry) -> None:
        """Append one entry now; the question is redacted and the session id replaced by its hash."""
        self.record_many((entry,))

    def record_many(self, entries: Sequence[LogEntry]) -> None:
        """Append entries in one transaction (what the batching writer calls)."""
        rows = [self._row(e) for e in entries]
        self._open().insert_questions(rows)

    def writer(self, capacity: int = 10_000, batch_size: int = 500, **options: Any) -> BatchWriter[LogEntry]:
        """A bounded queue + thread that records entries in batches, off the caller's thread.

        Close it before this log: `close()` writes what is still queued."""
        writer: BatchWriter[LogEntry] = BatchWriter(
            self.record_many, capacity=capacity, batch_size=batch_size, **options
        )
        register_writer(self.where, writer)
        return writer

    def record_feedback(
        self, answer_id: str, helpful: bool, comment: str | None = None, *, created: str | None = None
    ) -> Feedback | None:
        """Store the vote on one answer, replacing an earlier vote; None when no logged question
        carries `answer_id`. The comment is redacted like questions; an empty one is dropped."""
        if not acceptable_answer_id(answer_id):
            return None
        # Like questions: no control or invisible format characters (a bidi override would make the
        # comment read differently on the staff dashboard).
        text = visible_text(comment or "").strip()
        if len(text) > FEEDBACK_COMMENT_MAX:
            raise ValueError(f"意见最多 {FEEDBACK_COMMENT_MAX} 个字")
        stored = _storable(redact_text(text)) if text else None
        now = _utc_iso(created)
        row = self._open().upsert_feedback(answer_id, helpful, stored, now)
        if row is None and self._flush_writers():
            # The answer may still have been queued in this process's writer: now it is written.
            row = self._open().upsert_feedback(answer_id, helpful, stored, now)
        return None if row is None else _feedback(row)

    def _flush_writers(self, timeout: float = 2.0) -> bool:
        """Wait for this process's writers to the same database; True if any had work pending."""
        with _WRITERS_LOCK:
            writers = [w for (where, _), w in list(_WRITERS.items()) if where == self.where]
        pending = [w for w in writers if w.stats.queued]
        for w in pending:
            w.flush(timeout)
        return bool(pending)

    def feedback_for(self, answer_id: str) -> Feedback | None:
        row = self._open().feedback_for(answer_id)
        return None if row is None else _feedback(row)

    def between(self, since: str, until: str | None = None) -> tuple[LoggedQuestion, ...]:
        """Questions logged from `since` (inclusive) to `until` (exclusive), oldest first, each
        with the vote on its answer. Timestamps as for `LogEntry.created`."""
        start = _utc_iso(since)
        end = _utc_iso(until) if until is not None else "9999"
        return tuple(
            LoggedQuestion(_entry(q), None if f is None else _feedback(f)) for q, f in self._open().between(start, end)
        )

    def recent(self, limit: int = 50) -> list[LogEntry]:
        """The newest `limit` entries, newest first."""
        if limit <= 0:
            return []
        return [_entry(row) for row in self._open().recent(limit)]

    def purge(self, days: int, now: datetime | None = None) -> int:
        """Delete questions (and their feedback) older than `days` days; how many questions went.

        Retention is the privacy notice's promise ("保存 N 天后自动删除"), so it is done by the
        server itself rather than left to an operator's cron job."""
        if days < 1:
            raise ValueError("days must be at least 1")
        cutoff = ((now or datetime.now(UTC)) - timedelta(days=days)).isoformat(timespec="microseconds")
        return self._open().purge(cutoff)

    def count(self) -> int:
        return self._open().count()

    def stats(self, top: int = 10) -> LogStats:
        total, matched, top_rows, helpful, unhelpful = self._open().stats(top)
        return LogStats(
            total=total,
            matched=matched,
            matched_share=(matched / total) if total else 0.0,
            top_chunks=tuple(top_rows),
            helpful=helpful,
            unhelpful=unhelpful,
        )

    def close(self) -> None:
        """Close the connections; the last SQLite connection checkpoints and removes the WAL."""
        with self._lock:
            if self._db is not None:
                self._db.close()
            self._db = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _entry(row: Mapping[str, Any]) -> LogEntry:
    used = row["context_used"]
    return LogEntry(
        question=str(row["question"]),
        chunk_ids=tuple(_json_list(row["chunk_ids"])),
        scores=tuple(_json_list(row["scores"])),
        matched=bool(row["matched"]),
        kind=str(row["kind"]),
        latency_ms=float(row["latency_ms"]),
        channel=row["channel"],
        session_id=None if row["session_id"] is None else str(row["session_id"]),
        created=str(row["created"]),
        answer_id=None if row["answer_id"] is None else str(row["answer_id"]),
        context_used=None if used is None else bool(used),
    )


def _feedback(row: Mapping[str, Any]) -> Feedback:
    comment = row["comment"]
    return Feedback(
        str(row["answer_id"]), bool(row["helpful"]), None if comment is None else str(comment),
        str(row["created"]), str(row["updated"]),
    )  # fmt: skip


def _json_list(value: Any) -> list[Any]:
    decoded = json.loads(str(value))
    return decoded if isinstance(decoded, list) else []
