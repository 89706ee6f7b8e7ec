"""The question log's database: SQLite in the data directory by default, PostgreSQL when configured.

One SQLAlchemy Core engine per `Database`; the SQL is written once and rendered for each dialect,
except the one query that unnests a JSON array (SQLite's json_each vs PostgreSQL's
jsonb_array_elements_text). The schema is migrated by Alembic when the database is opened, under
a lock, so replicas or workers starting together never race to create it:

- SQLite: the migration runs in a `BEGIN IMMEDIATE` transaction (the write lock, taken up front).
- PostgreSQL: the migration transaction first takes a transaction-scoped advisory lock.

SQLite keeps today's guarantees: the data directory is 0700, the database and its -wal/-shm files
0600, WAL journal, `busy_timeout` so another process's commit is waited for rather than failed.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from .errors import QuestionLogError
from .schema import SCHEMA_VERSION, feedback, questions

DB_FILENAME = "questions.sqlite3"
DATABASE_URL_ENV = "POLICY_ASSISTANT_DATABASE_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest Alembic revision this program knows; a test checks it against the migrations folder.
HEAD_REVISION = "0003"
# Long enough to ride out another process's commit or a checkpoint; short enough that a stuck
# lock surfaces as an error rather than a hung writer.
BUSY_TIMEOUT_MS = 10_000
# A PostgreSQL server that does not answer within this is "down": the writer reports it and
# retries later instead of hanging.
CONNECT_TIMEOUT_S = 5
# Arbitrary but fixed: every replica migrating this schema takes the same advisory lock.
_PG_MIGRATION_LOCK = 0x5051_4C47  # "PQLG"

Row = dict[str, Any]


def private_dir(path: Path) -> None:
    """Create `path` (and parents) readable by the service user only; leave an existing one."""
    if path.is_dir():
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # mkdir's mode is filtered through the umask


def private_file(path: Path) -> None:
    """Create `path` as 0600 if missing. SQLite gives its -wal and -shm files the same mode."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)


def resolve_url(data_dir: Path, configured: str | None) -> URL:
    """The database to use: `configured` (a sqlite:/// or postgresql:// URL) or the data dir's file."""
    if not configured or not configured.strip():
        return URL.create("sqlite", database=str(Path(data_dir) / DB_FILENAME))
    try:
        url = make_url(configured.strip())
    except ArgumentError:
        raise QuestionLogError(f"{DATABASE_URL_ENV} 无法识别,应写成 postgresql://用户:密码@主机:端口/库名") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        # psycopg 3 is the driver this project installs, whatever the URL names.
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        return url.set(drivername="sqlite")
    raise QuestionLogError(f"{DATABASE_URL_ENV} 只支持 postgresql://… 或 sqlite:///文件路径(当前为 {backend})")


def describe(url: URL) -> str:
    """The URL for messages and /healthz: never with its password."""
    return url.render_as_string(hide_password=True)


class Database:
    """The question log's tables in one database. Thread-safe; open once per process and share."""

    def __init__(self, url: URL, *, migrate: bool = True) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self._pid = os.getpid()
        # SQLite allows one writer at a time; serialising writers in-process means this
        # process's threads never sleep in SQLite's busy handler waiting for each other.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        try:
            self.engine = self._engine()
            if migrate:
                self.migrate()
        except QuestionLogError:
            raise
        except (OSError, SQLAlchemyError) as exc:
            raise QuestionLogError(f"无法打开问题日志 {describe(url)}:{_reason(exc)}") from exc

    @classmethod
    def configured(cls, *, migrate: bool = True) -> Database:
        """The database the environment configures (used by `alembic` run by hand)."""
        from assistant.config import Settings

        settings = Settings.from_env()
        return cls(resolve_url(settings.data_dir, settings.database_url), migrate=migrate)

    # -- engine -------------------------------------------------------------------------------

    def _engine(self) -> Engine:
        if self.dialect == "sqlite":
            path = Path(str(self.url.database))
            private_dir(path.parent)
            private_file(path)
            engine = sa.create_engine(
                self.url,
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            )
            _sqlite_transactions(engine)
            return engine
        return sa.create_engine(
            self.url,
            # A connection left over from before a database restart is replaced, not failed on.
            pool_pre_ping=True,
            pool_size=4,
            max_overflow=4,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "policy-assistant"},
        )

    def _check_fork(self) -> None:
        # Pooled connections inherited through fork() share sockets/file locks with the parent
        # and must not be used; the child starts a fresh pool without closing the parent's.
        if self._pid != os.getpid():
            self.engine.dispose(close=False)
            self._pid = os.getpid()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        self._check_fork()
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.connect() as conn, conn.execution_options(sqlite_immediate=True).begin():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self._check_fork()
        with self.engine.connect() as conn:
            yield conn

    # -- schema -------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to HEAD_REVISION; refuse a database written by a newer version."""
        with self.locked() as conn:
            if self.dialect == "sqlite":
                version = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
                if version > SCHEMA_VERSION:
                    raise _newer(self.url, f"结构版本 {version}")
            current = _current_revision(conn)
            if current == HEAD_REVISION:
                return  # the common case, without loading Alembic at all
            if current is not None and current not in _known_revisions():
                raise _newer(self.url, f"迁移版本 {current}")
            _alembic_upgrade(conn)
            if self.dialect == "sqlite":
                conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def locked(self) -> Iterator[Connection]:
        """A transaction holding the migration lock (SQLite: the write lock; PostgreSQL: an advisory
        lock), so that of several processes starting together one migrates and the rest wait."""
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            yield conn

    # -- writes -------------------------------------------------------------------------------

    def insert_questions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert many questions in one transaction (one round trip per batch on PostgreSQL)."""
        if not rows:
            return
        with self._write() as conn:
            conn.execute(questions.insert(), [dict(r) for r in rows])

    def upsert_feedback(self, answer_id: str, helpful: bool, comment: str | None, now: str) -> Row | None:
        """The vote on `answer_id`, replacing an earlier one; None if no question has that id."""
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        values = sa.select(
            sa.literal(answer_id, sa.Text),
            sa.literal(int(helpful), sa.Integer),
            sa.literal(comment, sa.Text),
            sa.literal(now, sa.Text),
            sa.literal(now, sa.Text),
        ).where(sa.exists().where(questions.c.answer_id == answer_id))
        # The EXISTS guard and the upsert are one statement: a vote for an unknown answer never
        # lands, and two votes racing each other leave exactly one row (the later).
        stmt = insert(feedback).from_select(["answer_id", "helpful", "comment", "created", "updated"], values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[feedback.c.answer_id],
            set_={"helpful": stmt.excluded.helpful, "comment": stmt.excluded.comment, "updated": stmt.excluded.updated},
        )
        with self._write() as conn:
            # RETURNING rather than rowcount: the drivers disagree on the rowcount of an
            # INSERT … SELECT that selected nothing.
            row = conn.execute(stmt.returning(*feedback.c)).mappings().first()
        return None if row is None else dict(row)

    def purge(self, cutoff: str) -> int:
        """Delete questions created before `cutoff` and feedback that outlives its question."""
        with self._write() as conn:
            gone = conn.execute(sa.delete(questions).where(questions.c.created < cutoff)).rowcount
            alive = sa.select(questions.c.answer_id).where(questions.c.answer_id.is_not(None))
            conn.execute(
                sa.delete(feedback).where(sa.or_(feedback.c.updated < cutoff, feedback.c.answer_id.not_in(alive)))
            )
        return int(gone)

    # -- reads --------------------------------------------------------------------------------

    def feedback_for(self, answer_id: str) -> Row | None:
        with self._read() as conn:
            row = conn.execute(sa.select(feedback).where(feedback.c.answer_id == answer_id)).mappings().first()
        return None if row is None else dict(row)

    def between(self, start: str, end: str) -> list[tuple[Row, Row | None]]:
        """Questions with start <= created < end, oldest first, each with its vote (or None)."""
        f = feedback.alias("f")
        stmt = (
            sa.select(questions, *(c.label(f"f_{c.name}") for c in f.c))
            .select_from(questions.outerjoin(f, f.c.answer_id == questions.c.answer_id))
            .where(questions.c.created >= start, questions.c.created < end)
            .order_by(questions.c.created, questions.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).mappings().all()
        out: list[tuple[Row, Row | None]] = []
        for row in rows:
            question = {c.name: row[c.name] for c in questions.c}
            vote = {c.name: row[f"f_{c.name}"] for c in f.c}
            out.append((question, None if vote["answer_id"] is None else vote))
        return out

    def recent(self, limit: int) -> list[Row]:
        stmt = sa.select(questions).order_by(questions.c.id.desc()).limit(limit)
        with self._read() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings().all()]

    def count(self) -> int:
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(questions)).scalar_one())

    def stats(self, top: int) -> tuple[int, int, list[tuple[str, int]], int, int]:
        """(questions, matched, top chunk ids with counts, helpful votes, unhelpful votes)."""
        with self._read() as conn:
            total, matched = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(questions.c.matched), 0))
            ).one()
            # DISTINCT per question: a chunk listed twice in one answer is still one question.
            top_rows = conn.execute(sa.text(_TOP_CHUNKS[self.dialect]), {"top": max(top, 0)}).all()
            helpful, unhelpful = conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(feedback.c.helpful), 0),
                    sa.func.coalesce(sa.func.sum(1 - feedback.c.helpful), 0),
                )
            ).one()
        return int(total), int(matched), [(str(c), int(n)) for c, n in top_rows], int(helpful), int(unhelpful)

    def close(self) -> None:
        """Close pooled connections; SQLite's last connection checkpoints and removes the WAL."""
        if self._pid == os.getpid():
            self.engine.dispose()
        else:
            self.engine.dispose(close=False)


_TOP_CHUNKS = {
    "sqlite": (
        "SELECT value, COUNT(*) AS n FROM ("
        "  SELECT DISTINCT questions.id, j.value AS value FROM questions, json_each(questions.chunk_ids) AS j"
        ") GROUP BY value ORDER BY n DESC, value LIMIT :top"
    ),
    "postgresql": (
        "SELECT value, COUNT(*) AS n FROM ("
        "  SELECT DISTINCT q.id, j.value AS value"
        "  FROM questions q CROSS JOIN LATERAL jsonb_array_elements_text(q.chunk_ids::jsonb) AS j(value)"
        ') AS d GROUP BY value ORDER BY n DESC, value COLLATE "C" LIMIT :top'
    ),
}


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (SQLAlchemy's
    documented recipe), and begin write transactions IMMEDIATE: the write lock is taken up front,
    so two writers never deadlock upgrading a read lock, and the busy timeout applies."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver issues no BEGIN of its own
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL cannot corrupt the database; at worst the last few entries before a
        # power cut are lost, acceptable for a log and much cheaper per commit.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _current_revision(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def _alembic_upgrade(conn: Connection) -> None:
    from alembic import command

    config = _alembic_config()
    # Alembic sees a connection already inside our transaction and runs in it, under our lock.
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _newer(url: URL, what: str) -> QuestionLogError:
    return QuestionLogError(
        f"问题日志 {describe(url)} 由较新版本创建({what},本程序支持结构版本 {SCHEMA_VERSION}),请升级程序"
    )


def _reason(exc: BaseException) -> str:
    # psycopg's messages can run to several lines (with a hint); /healthz shows the first.
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def dumps_list(values: Sequence[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


__all__ = [
    "BUSY_TIMEOUT_MS",
    "DATABASE_URL_ENV",
    "DB_FILENAME",
    "HEAD_REVISION",
    "Database",
    "describe",
    "dumps_list",
    "private_dir",
    "private_file",
    "resolve_url",
]
