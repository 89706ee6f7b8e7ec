"""Question log: every question asked, what it matched and how fast, for operators.

Stored in SQLite so an operator can query it with the sqlite3 shell and so several server
workers can append to it at once. Questions are redacted inside `record`, so no caller can
forget to do it and no raw ID number ever reaches the file (or its write-ahead log).

Concurrency: one connection per `QuestionLog`, shared by all threads behind a lock. The web
server calls `record` from a thread pool; serialising in-process means threads never compete
for SQLite's write lock, and WAL plus `busy_timeout` covers other processes (other workers, an
operator running a report) so they wait instead of failing with "database is locked".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

from assistant.errors import PolicyAssistantError
from assistant.redact import redact, redact_text

__all__ = [
    "DB_FILENAME",
    "FEEDBACK_COMMENT_MAX",
    "SCHEMA_VERSION",
    "Channel",
    "Feedback",
    "LogEntry",
    "LogStats",
    "LoggedQuestion",
    "QuestionLog",
    "acceptable_answer_id",
    "acceptable_session_id",
    "new_answer_id",
    "default_data_dir",
    "entry_from_answer",
]

DB_FILENAME = "questions.sqlite3"
# 1: questions. 2: questions.answer_id and .context_used, channel "wechat", the feedback table.
SCHEMA_VERSION = 2
DATA_DIR_ENV = "POLICY_ASSISTANT_DATA"
FEEDBACK_COMMENT_MAX = 200  # characters, as typed

Channel = Literal["web", "api", "cli", "wechat"]
_CHANNELS: frozenset[str] = frozenset(get_args(Channel))

# Session ids come from an API header, i.e. from the user. Only the shape of an opaque random
# token is accepted (16–64 characters of the base64url/uuid alphabet, not all digits, nothing the
# redactor recognises as an ID, phone or card); anything else is dropped. What is stored is never
# the value as sent but its HMAC under a key kept in the data directory: questions of one session
# still group together, and the column cannot be matched against a known id without the key.
_SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Answer ids are made here (new_answer_id) and handed to the asker; feedback quotes them back.
_ANSWER_ID_RE = re.compile(r"[a-z2-7]{16,64}")
SESSION_KEY_FILENAME = "session.key"

# Long enough to ride out another process's commit or a checkpoint; short enough that a stuck
# lock surfaces as an error rather than a hung request.
_BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created     TEXT    NOT NULL,  -- UTC, ISO 8601 with offset
    question    TEXT    NOT NULL,  -- already redacted
    chunk_ids   TEXT    NOT NULL,  -- JSON array of strings, best first
    scores      TEXT    NOT NULL,  -- JSON array of numbers, parallel to chunk_ids
    matched     INTEGER NOT NULL CHECK (matched IN (0, 1)),
    kind        TEXT    NOT NULL,
    latency_ms  REAL    NOT NULL,
    channel     TEXT    NOT NULL CHECK (channel IN ('web', 'api', 'cli', 'wechat')),
    session_id  TEXT,
    answer_id   TEXT,     -- opaque random id handed out with the answer, quoted back by feedback
    context_used INTEGER CHECK (context_used IN (0, 1))  -- NULL: logged before version 2
);
CREATE INDEX IF NOT EXISTS questions_created ON questions (created);
CREATE UNIQUE INDEX IF NOT EXISTS questions_answer_id ON questions (answer_id);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id   TEXT    PRIMARY KEY,  -- questions.answer_id
    helpful     INTEGER NOT NULL CHECK (helpful IN (0, 1)),
    comment     TEXT,                 -- already redacted
    created     TEXT    NOT NULL,     -- first vote, UTC
    updated     TEXT    NOT NULL      -- last vote (the one that counts), UTC
);
"""

# Version 1's table carried a CHECK on channel that SQLite cannot alter: version 2 rebuilds the
# table and copies the rows, keeping their ids (so nothing that refers to a row changes).
_V1_COLUMNS = "id, created, question, chunk_ids, scores, matched, kind, latency_ms, channel, session_id"


class QuestionLogError(PolicyAssistantError):
    """The question log file cannot be opened or was written by a newer version."""


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


def new_answer_id() -> str:
    """A fresh opaque answer id: 120 random bits in lower-case base32.

    Base32's digits are 2–7 only, so no run of them can look like a mobile, ID or card number
    to the PII scanner, however long.
    """
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()


def acceptable_answer_id(answer_id: object) -> bool:
    return isinstance(answer_id, str) and _ANSWER_ID_RE.fullmatch(answer_id) is not None


def default_data_dir() -> Path:
    """`$POLICY_ASSISTANT_DATA`, or `var/` under the current working directory."""
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.cwd() / "var"


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
    # Lone surrogates (possible in JSON input, "\\ud800") cannot be encoded as UTF-8 for SQLite.
    return text.encode("utf-8", "replace").decode("utf-8")


def acceptable_session_id(session_id: object) -> bool:
    """True for an opaque random token; False for anything that could be a person's data."""
    if not isinstance(session_id, str) or not _SESSION_ID_RE.fullmatch(session_id):
        return False
    if session_id.isdigit() or redact(session_id).found:
        return False
    # Dashes and underscores only separate: 110105-19491231-002X is an ID whatever its alphabet.
    return not redact(session_id.replace("-", " ").replace("_", " ")).found


def _private_dir(path: Path) -> None:
    """Create `path` (and parents) readable by the service user only; leave an existing one."""
    if path.is_dir():
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # mkdir's mode is filtered through the umask


def _private_file(path: Path) -> None:
    """Create `path` as 0600 if missing. SQLite gives its -wal and -shm files the same mode."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)


def _session_key(data_dir: Path) -> bytes:
    """The data directory's HMAC key for session ids: 32 random bytes, created once, mode 0600."""
    path = data_dir / SESSION_KEY_FILENAME
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < 32:  # truncated or hand-made: refuse rather than hash with a weak key
            raise QuestionLogError(f"会话密钥文件 {path} 已损坏(少于 32 字节);请删除后重启,将生成新密钥") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


class QuestionLog:
    """Append-only question log in `<data_dir>/questions.sqlite3`. Safe to share across threads."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_FILENAME
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._key = b""
        with self._lock:
            self._connection()  # fail at start-up, not on the first question

    def _connection(self) -> sqlite3.Connection:
        """The open connection; (re)opened lazily. Call with the lock held."""
        # A connection inherited through fork() shares file locks with the parent and must not
        # be used; a forked server worker opens its own.
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            _private_dir(self.data_dir)
            _private_file(self.path)
            self._key = _session_key(self.data_dir)
            conn = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # autocommit: each INSERT is its own short transaction
                check_same_thread=False,  # access is serialised by self._lock
            )
        except (OSError, sqlite3.Error) as exc:
            raise QuestionLogError(f"无法打开问题日志 {self.path}：{exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL cannot corrupt the database; at worst the last few entries
            # before a power cut are lost, acceptable for a log and much cheaper per request.
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two workers starting together do not both
        # read version 0 and race to create the schema.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise QuestionLogError(
                    f"问题日志 {self.path} 由较新版本创建（结构版本 {version}，"
                    f"本程序支持 {SCHEMA_VERSION}），请升级程序"
                )
            if version < 2 and self._has_v1_table(conn):
                conn.execute("ALTER TABLE questions RENAME TO questions_v1")
                conn.execute("DROP INDEX IF EXISTS questions_created")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if version < 2 and self._has_table(conn, "questions_v1"):
                conn.execute(f"INSERT INTO questions ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM questions_v1")
                conn.execute("DROP TABLE questions_v1")
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT may already have ended it
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _has_table(conn: sqlite3.Connection, name: str) -> bool:
        row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return row is not None

    @classmethod
    def _has_v1_table(cls, conn: sqlite3.Connection) -> bool:
        if not cls._has_table(conn, "questions"):
            return False
        columns = {row[1] for row in conn.execute("PRAGMA table_info(questions)")}
        return "answer_id" not in columns

    def session_hash(self, session_id: str | None) -> str | None:
        """What is stored for a session id: its keyed hash, or None for an unacceptable one."""
        if not acceptable_session_id(session_id):
            return None
        assert isinstance(session_id, str)
        with self._lock:
            self._connection()
            key = self._key
        digest = hmac.new(key, session_id.encode("ascii"), hashlib.sha256).digest()[:16]
        # Base32 rather than hex: a hex digest would now and then contain a long digit run that
        # looks like a phone number to a PII scanner.
        return base64.b32encode(digest).decode("ascii").rstrip("=").lower()

    def record(self, entry: LogEntry) -> None:
        """Append one entry; the question is redacted and the session id replaced by its hash."""
        stored = replace(
            entry,
            question=_storable(redact_text(entry.question)),
            kind=_storable(entry.kind),
            session_id=self.session_hash(entry.session_id),
            created=_utc_iso(entry.created),
        )
        row = (
            stored.created,
            stored.question,
            json.dumps(list(stored.chunk_ids), ensure_ascii=False),
            json.dumps(list(stored.scores)),
            int(stored.matched),
            stored.kind,
            stored.latency_ms,
            stored.channel,
            stored.session_id,
            stored.answer_id,
            None if stored.context_used is None else int(stored.context_used),
        )
        with self._lock:
            self._connection().execute(
                "INSERT INTO questions (created, question, chunk_ids, scores, matched, kind,"
                " latency_ms, channel, session_id, answer_id, context_used)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def record_feedback(
        self, answer_id: str, helpful: bool, comment: str | None = None, *, created: str | None = None
    ) -> Feedback | None:
        """Store the vote on one answer, replacing an earlier vote; None when no logged question
        carries `answer_id`. The comment is redacted like questions; an empty one is dropped."""
        if not acceptable_answer_id(answer_id):
            return None
        text = (comment or "").strip()
        if len(text) > FEEDBACK_COMMENT_MAX:
            raise ValueError(f"意见最多 {FEEDBACK_COMMENT_MAX} 个字")
        stored = _storable(redact_text(text)) if text else None
        now = _utc_iso(created)
        with self._lock:
            conn = self._connection()
            # The EXISTS guard and the upsert are one statement: a vote for an unknown answer
            # never lands, and two votes racing each other leave exactly one row (the later).
            cursor = conn.execute(
                "INSERT INTO feedback (answer_id, helpful, comment, created, updated)"
                " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM questions WHERE answer_id = ?)"
                " ON CONFLICT (answer_id) DO UPDATE SET"
                " helpful = excluded.helpful, comment = excluded.comment, updated = excluded.updated",
                (answer_id, int(helpful), stored, now, now, answer_id),
            )
            if cursor.rowcount == 0:
                return None
            row = conn.execute(
                "SELECT answer_id, helpful, comment, created, updated FROM feedback WHERE answer_id = ?", (answer_id,)
            ).fetchone()
        return _feedback(row)

    def feedback_for(self, answer_id: str) -> Feedback | None:
        with self._lock:
            row = (
                self._connection()
                .execute(
                    "SELECT answer_id, helpful, comment, created, updated FROM feedback WHERE answer_id = ?",
                    (answer_id,),
                )
                .fetchone()
            )
        return None if row is None else _feedback(row)

    def between(self, since: str, until: str | None = None) -> tuple[LoggedQuestion, ...]:
        """Questions logged from `since` (inclusive) to `until` (exclusive), oldest first, each
        with the vote on its answer. Timestamps as for `LogEntry.created`."""
        start = _utc_iso(since)
        end = _utc_iso(until) if until is not None else "9999"
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    f"SELECT {_ENTRY_COLUMNS}, f.answer_id, f.helpful, f.comment, f.created, f.updated"
                    " FROM questions q LEFT JOIN feedback f ON f.answer_id = q.answer_id"
                    " WHERE q.created >= ? AND q.created < ? ORDER BY q.created, q.id",
                    (start, end),
                )
                .fetchall()
            )
        n = len(_ENTRY_COLUMNS.split(","))
        return tuple(
            LoggedQuestion(self._entry(row[:n]), None if row[n] is None else _feedback(row[n:])) for row in rows
        )

    def recent(self, limit: int = 50) -> list[LogEntry]:
        """The newest `limit` entries, newest first."""
        if limit <= 0:
            return []
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    f"SELECT {_ENTRY_COLUMNS} FROM questions q ORDER BY q.id DESC LIMIT ?",
                    (limit,),
                )
                .fetchall()
            )
        return [self._entry(row) for row in rows]

    def purge(self, days: int, now: datetime | None = None) -> int:
        """Delete questions (and their feedback) older than `days` days; how many questions went.

        Retention is the privacy notice's promise ("保存 N 天后自动删除"), so it is done by the
        server itself rather than left to an operator's cron job."""
        if days < 1:
            raise ValueError("days must be at least 1")
        cutoff = ((now or datetime.now(UTC)) - timedelta(days=days)).isoformat(timespec="microseconds")
        with self._lock:
            conn = self._connection()
            with conn:
                gone = conn.execute("DELETE FROM questions WHERE created < ?", (cutoff,)).rowcount
                # Feedback outlives nothing it refers to: votes on deleted answers, or old votes.
                conn.execute(
                    "DELETE FROM feedback WHERE updated < ?"
                    " OR answer_id NOT IN (SELECT answer_id FROM questions WHERE answer_id IS NOT NULL)",
                    (cutoff,),
                )
        return int(gone)

    def count(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT COUNT(*) FROM questions").fetchone()[0])

    def stats(self, top: int = 10) -> LogStats:
        with self._lock:
            conn = self._connection()
            total, matched = conn.execute("SELECT COUNT(*), COALESCE(SUM(matched), 0) FROM questions").fetchone()
            # DISTINCT per question: a chunk listed twice in one answer is still one question.
            top_rows = conn.execute(
                "SELECT value, COUNT(*) AS n FROM ("
                "  SELECT DISTINCT questions.id, j.value AS value"
                "  FROM questions, json_each(questions.chunk_ids) AS j"
                ") GROUP BY value ORDER BY n DESC, value LIMIT ?",
                (max(top, 0),),
            ).fetchall()
            helpful, unhelpful = conn.execute(
                "SELECT COALESCE(SUM(helpful), 0), COALESCE(SUM(1 - helpful), 0) FROM feedback"
            ).fetchone()
        return LogStats(
            total=int(total),
            matched=int(matched),
            matched_share=(matched / total) if total else 0.0,
            top_chunks=tuple((str(chunk_id), int(n)) for chunk_id, n in top_rows),
            helpful=int(helpful),
            unhelpful=int(unhelpful),
        )

    def close(self) -> None:
        """Close the connection; the last connection to close checkpoints and removes the WAL."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> QuestionLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def _entry(row: tuple[Any, ...]) -> LogEntry:
        question, chunk_ids, scores, matched, kind, latency_ms, channel, session_id, created, answer_id, used = row
        return LogEntry(
            question=str(question),
            chunk_ids=tuple(_json_list(chunk_ids)),
            scores=tuple(_json_list(scores)),
            matched=bool(matched),
            kind=str(kind),
            latency_ms=float(latency_ms),
            channel=channel,
            session_id=None if session_id is None else str(session_id),
            created=str(created),
            answer_id=None if answer_id is None else str(answer_id),
            context_used=None if used is None else bool(used),
        )


_ENTRY_COLUMNS = (
    "q.question, q.chunk_ids, q.scores, q.matched, q.kind, q.latency_ms, q.channel, q.session_id, q.created,"
    " q.answer_id, q.context_used"
)


def _feedback(row: tuple[Any, ...]) -> Feedback:
    answer_id, helpful, comment, created, updated = row
    return Feedback(str(answer_id), bool(helpful), None if comment is None else str(comment), str(created), str(updated))


def _json_list(value: Any) -> list[Any]:
    decoded = json.loads(str(value))
    return decoded if isinstance(decoded, list) else []
