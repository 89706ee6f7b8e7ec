"""State every replica must see at once: admin sessions and short-lived keys (issue 22).

Kept in the question log's database (SQLite file, or PostgreSQL for replicas), so a sign-out, a
WeChat nonce, a MsgId, a follow-up's context or a saved lookup search is known to every worker
and every replica the moment it is written. With the question log switched off there is no
database: the same SQL then runs on a private in-memory SQLite (one process, as before).

Every operation is one short statement; expired rows are invisible at once and deleted in
passing (at most once a minute per process), so no table grows without bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from .database import Database, _reason, private_dir, resolve_url
from .errors import QuestionLogError
from .schema import admin_sessions, ephemeral

PURGE_INTERVAL = 60.0


class SharedStateError(QuestionLogError):
    """The shared store could not be read or written (database down, disk full)."""


class SharedState:
    """Thread-safe; `clock` gives seconds since the epoch (tests inject one)."""

    def __init__(self, database: Database | None = None, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._database = database
        self._purged_at = 0.0
        if database is not None:
            self.dialect = database.dialect
            self._memory: sa.Engine | None = None
        else:
            self.dialect = "sqlite"
            self._memory = sa.create_engine(
                "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
            admin_sessions.metadata.create_all(self._memory, tables=[admin_sessions, ephemeral])
        self._memory_lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def _guarded(self, cm: AbstractContextManager[Connection]) -> Iterator[Connection]:
        try:
            with cm as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise SharedStateError(f"共享状态存储不可用:{_reason(exc)}") from exc

    def _write(self) -> AbstractContextManager[Connection]:
        if self._database is not None:
            return self._guarded(self._database._write())
        return self._guarded(self._memory_tx())

    def _read(self) -> AbstractContextManager[Connection]:
        if self._database is not None:
            return self._guarded(self._database._read())
        return self._guarded(self._memory_tx())

    @contextmanager
    def _memory_tx(self) -> Iterator[Connection]:
        assert self._memory is not None
        with self._memory_lock, self._memory.begin() as conn:
            yield conn

    def _insert(self) -> Callable[..., sa.Insert]:
        return postgresql.insert if self.dialect == "postgresql" else sqlite.insert  # type: ignore[return-value]

    def _maybe_purge(self, conn: Connection, now: float) -> None:
        if now - self._purged_at < PURGE_INTERVAL:
            return
        self._purged_at = now
        conn.execute(sa.delete(ephemeral).where(ephemeral.c.expires <= now))
        conn.execute(sa.delete(admin_sessions).where(admin_sessions.c.expires <= now))

    # -- admin sessions -----------------------------------------------------------------------

    def open_session(self, id_hash: str, token_hash: str, seconds: float) -> None:
        now = self.clock()
        with self._write() as conn:
            self._maybe_purge(conn, now)
            conn.execute(admin_sessions.insert().values(id_hash=id_hash, token_hash=token_hash,
                                                        expires=now + seconds, revoked=0))  # fmt: skip

    def session_valid(self, id_hash: str, token_hash: str) -> bool:
        """Live, not revoked, and opened under the current token."""
        stmt = sa.select(sa.literal(1)).where(
            admin_sessions.c.id_hash == id_hash,
            admin_sessions.c.token_hash == token_hash,
            admin_sessions.c.revoked == 0,
            admin_sessions.c.expires > self.clock(),
        )
        with self._read() as conn:
            return conn.execute(stmt).first() is not None

    def revoke_session(self, id_hash: str) -> None:
        with self._write() as conn:
            conn.execute(sa.update(admin_sessions).where(admin_sessions.c.id_hash == id_hash).values(revoked=1))

    def revoke_all(self, except_token_hash: str | None = None) -> int:
        """Revoke every live session (or those opened under another token); how many."""
        stmt = sa.update(admin_sessions).where(admin_sessions.c.revoked == 0, admin_sessions.c.expires > self.clock())
        if except_token_hash is not None:
            stmt = stmt.where(admin_sessions.c.token_hash != except_token_hash)
        with self._write() as conn:
            return int(conn.execute(stmt.values(revoked=1)).rowcount or 0)

    # -- short-lived keys ---------------------------------------------------------------------

    def claim(self, kind: str, key: str, value: str, ttl: float) -> str | None:
        """Store `value` under (kind, key) unless a live entry is there: None when this call stored
        it (the first), else the live entry's value. One statement, so of two replicas racing for
        the same key exactly one gets None."""
        now = self.clock()
        insert = self._insert()(ephemeral).values(kind=kind, key=key, value=value, expires=now + ttl)
        stmt = insert.on_conflict_do_update(
            index_elements=[ephemeral.c.kind, ephemeral.c.key],
            set_={"value": insert.excluded.value, "expires": insert.excluded.expires},
            where=ephemeral.c.expires <= now,  # an expired entry is replaced as if absent
        ).returning(ephemeral.c.key)
        with self._write() as conn:
            self._maybe_purge(conn, now)
            if conn.execute(stmt).first() is not None:
                return None
            existing = conn.execute(
                sa.select(ephemeral.c.value).where(ephemeral.c.kind == kind, ephemeral.c.key == key)
            ).scalar()
        return "" if existing is None else str(existing)

    def put(self, kind: str, key: str, value: str, ttl: float) -> None:
        now = self.clock()
        insert = self._insert()(ephemeral).values(kind=kind, key=key, value=value, expires=now + ttl)
        stmt = insert.on_conflict_do_update(
            index_elements=[ephemeral.c.kind, ephemeral.c.key],
            set_={"value": insert.excluded.value, "expires": insert.excluded.expires},
        )
        with self._write() as conn:
            self._maybe_purge(conn, now)
            conn.execute(stmt)

    def get(self, kind: str, key: str, renew: float | None = None) -> str | None:
        """The live value, or None; with `renew`, its lifetime starts again (sliding expiry)."""
        now = self.clock()
        where = (ephemeral.c.kind == kind, ephemeral.c.key == key, ephemeral.c.expires > now)
        if renew is None:
            with self._read() as conn:
                value = conn.execute(sa.select(ephemeral.c.value).where(*where)).scalar()
        else:
            stmt = sa.update(ephemeral).where(*where).values(expires=now + renew).returning(ephemeral.c.value)
            with self._write() as conn:
                value = conn.execute(stmt).scalar()
        return None if value is None else str(value)

    def delete(self, kind: str, key: str) -> None:
        with self._write() as conn:
            conn.execute(sa.delete(ephemeral).where(ephemeral.c.kind == kind, ephemeral.c.key == key))

    def trim(self, kind: str, keep: int) -> None:
        """Delete all but the `keep` entries of a kind that expire last (the most recently used,
        for sliding expiry); expired ones go too."""
        now = self.clock()
        newest = (
            sa.select(ephemeral.c.key)
            .where(ephemeral.c.kind == kind, ephemeral.c.expires > now)
            .order_by(ephemeral.c.expires.desc())
            .limit(max(keep, 0))
        )
        with self._write() as conn:
            conn.execute(sa.delete(ephemeral).where(ephemeral.c.kind == kind, ephemeral.c.key.not_in(newest)))

    def count(self, kind: str) -> int:
        """Live entries of a kind (tests and the lookup's bound)."""
        stmt = sa.select(sa.func.count()).where(ephemeral.c.kind == kind, ephemeral.c.expires > self.clock())
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def close(self) -> None:
        if self._memory is not None:
            self._memory.dispose()
        elif self._database is not None:
            self._database.close()


class SharedStateHandle:
    """The shared store as the web edge uses it: opened on first use (a worker that never sees an
    admin or a WeChat message never connects), in the question log's database — `database_url`
    ("" or None: the data directory's SQLite file) — or in memory when `data_dir` is None (the
    question log is switched off: nothing is written to disk)."""

    def __init__(self, data_dir: Path | None, database_url: str | None = "", clock: Callable[[], float] = time.time):
        self.data_dir = data_dir
        self.database_url = database_url
        self.clock = clock
        self._state: SharedState | None = None
        self._lock = threading.Lock()

    def get(self) -> SharedState:
        with self._lock:
            if self._state is None:
                if self.data_dir is None:
                    self._state = SharedState(None, self.clock)
                else:
                    try:
                        private_dir(self.data_dir)
                    except OSError as exc:
                        raise SharedStateError(f"无法打开共享状态存储 {self.data_dir}:{exc}") from exc
                    try:
                        database = Database(resolve_url(self.data_dir, self.database_url))
                    except QuestionLogError as exc:  # one error type for callers of the shared store
                        raise SharedStateError(str(exc)) from exc
                    self._state = SharedState(database, self.clock)
            return self._state

    def close(self) -> None:
        with self._lock:
            if self._state is not None:
                self._state.close()
                self._state = None


__all__ = ["SharedState", "SharedStateError", "SharedStateHandle"]
