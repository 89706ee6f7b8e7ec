"""Recording asked questions in the question log, without ever costing a citizen an answer.

The log is opened lazily (a worker that only serves pages never creates the file) and every
failure is caught: a full disk, a read-only data directory or an unreachable database is logged
once, the answer is returned as usual, and /healthz says "failing" with the reason.

Two ways to write, chosen by `queue_size`:
- 0: on the request's own thread, at once (tests built from WebSettings() read their own writes);
  after a failure, writing is retried at most every RETRY_SECONDS.
- N > 0 (what `serve` uses, POLICY_ASSISTANT_LOG_QUEUE, default 10000): the entry goes into a
  bounded queue and one writer thread commits batches (assistant/store/writer.py); an outage keeps
  the queued entries and retries, an overflow drops and counts, a clean shutdown writes them all.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request

from assistant.qlog import Channel, LogEntry, QuestionLog, acceptable_session_id, register_writer
from assistant.redact import redact_text
from assistant.service import check_question
from assistant.store import BatchWriter, QuestionLogError, describe, resolve_url

log = logging.getLogger("policy_assistant.web")

RETRY_SECONDS = 30.0
CHANNEL_HEADER = "X-Channel"
SESSION_HEADER = "X-Session-Id"


# Old questions are deleted by the server itself (the privacy notice promises it): on the first
# question a worker records, then at most this often.
PURGE_EVERY_SECONDS = 6 * 3600.0
# A drop (queue full) keeps /healthz at "failing" this long, so a monitor polling now and then sees it.
DROP_REPORT_SECONDS = 60.0


class QuestionRecorder:
    def __init__(
        self,
        data_dir: Path | None,
        clock: Callable[[], float] | None = None,
        retention_days: int | None = None,
        *,
        database_url: str | None = "",
        queue_size: int = 0,
    ) -> None:
        self.data_dir = data_dir  # None: recording is switched off
        self.retention_days = retention_days  # None: keep everything
        # "": the SQLite file in data_dir; None: POLICY_ASSISTANT_DATABASE_URL; else that URL.
        self.database_url = database_url
        self.queue_size = queue_size
        self._writer: BatchWriter[LogEntry] | None = None
        self._closed = False
        self._clock = clock or time.monotonic
        self._purge_at = 0.0
        self._log: QuestionLog | None = None
        self._lock = threading.Lock()
        self._failing = False
        self._retry_at = 0.0
        self._error: str | None = None

    @property
    def state(self) -> tuple[str, str | None]:
        """("ok" | "failing" | "off", why it is failing) for /healthz."""
        if self.data_dir is None:
            return "off", None
        writer = self._writer
        if writer is not None:
            stats = writer.stats
            if stats.failing:
                return "failing", f"问题日志无法写入 {self._where()}: {stats.error}(待写 {stats.queued} 条)"
            if stats.last_drop is not None and time.monotonic() - stats.last_drop < DROP_REPORT_SECONDS:
                return "failing", f"问题日志写入队列已满,已丢弃 {stats.dropped} 条记录"
        if self._failing:
            return "failing", self._error
        return "ok", None

    def _where(self) -> str:
        assert self.data_dir is not None
        try:
            return describe(resolve_url(self.data_dir, self.database_url))
        except QuestionLogError:
            return str(self.data_dir)

    @property
    def enabled(self) -> bool:
        return self.data_dir is not None

    def _open(self) -> QuestionLog:
        with self._lock:
            if self._log is None:
                assert self.data_dir is not None
                self._log = QuestionLog(self.data_dir, self.database_url)
            return self._log

    def record(self, entry: LogEntry) -> bool:
        """Append `entry` (or queue it); False (and at most one log line per outage) when that failed."""
        if self.data_dir is None:
            return False
        if self.queue_size > 0:
            return self._queued().submit(entry)
        if self._failing and self._clock() < self._retry_at:
            return False
        try:
            self._open().record(entry)
        except Exception as exc:  # never let the log break an answer
            with self._lock:
                first = not self._failing
                self._failing = True
                self._error = f"问题日志无法写入 {self._where()}: {type(exc).__name__}: {exc}"
                self._retry_at = self._clock() + RETRY_SECONDS
            if first:
                log.exception("问题日志写入失败,答复照常返回;之后每 %d 秒重试一次", RETRY_SECONDS)
            return False
        if self._failing:
            with self._lock:
                self._failing = False
                self._error = None
            log.warning("问题日志恢复写入: %s", self._where())
        self._purge_if_due()
        return True

    def _queued(self) -> BatchWriter[LogEntry]:
        with self._lock:
            if self._writer is None:
                self._writer = BatchWriter(
                    self._write_batch,
                    capacity=self.queue_size,
                    max_retry_seconds=RETRY_SECONDS,
                    on_failure=self._on_failure,
                    on_recovery=lambda: log.warning("问题日志恢复写入: %s", self._where()),
                )
                register_writer(self._where(), self._writer)  # a vote waits for its queued answer
                if self._closed:  # a question racing shutdown: dropped and counted, not written late
                    self._writer.close()
            return self._writer

    def _write_batch(self, entries: Sequence[LogEntry]) -> None:
        """The writer thread's sink: one transaction per batch, then the retention purge if due."""
        self._open().record_many(entries)
        self._purge_if_due()

    def _on_failure(self, exc: BaseException) -> None:
        log.error(
            "问题日志写入失败,答复照常返回;记录留在队列中(至多 %d 条),稍后重试: %s: %s",
            self.queue_size, type(exc).__name__, exc,
        )  # fmt: skip

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until queued entries are written; True when nothing is left (always, unqueued)."""
        writer = self._writer
        return True if writer is None else writer.flush(timeout)

    def _purge_if_due(self) -> None:
        if self.retention_days is None or self._clock() < self._purge_at:
            return
        self._purge_at = self._clock() + PURGE_EVERY_SECONDS
        try:
            gone = self._open().purge(self.retention_days)
        except Exception:  # a failed purge is retried next time; it never costs an answer
            log.exception("删除 %d 天前的问题记录失败,%d 小时后重试", self.retention_days, PURGE_EVERY_SECONDS // 3600)
            return
        if gone:
            log.info("已删除 %d 条 %d 天前的问题记录", gone, self.retention_days)

    def close(self) -> None:
        """Write what is queued (a clean shutdown loses nothing the database accepts), then close."""
        with self._lock:
            self._closed = True
            writer = self._writer
        if writer is not None:
            writer.close()
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None


_SURROGATE = re.compile("[\ud800-\udfff]")


def edge_question(text: str) -> str:
    """The question as the library may see it: checked as typed, then with personal data replaced.

    The length limit applies to what the person typed, so it is checked before redaction (which
    only ever shortens). Lone surrogates (only reachable through JSON escapes) become U+FFFD.
    """
    # check_question also removes control and invisible format characters: what is stored and shown
    # is the visible question.
    return redact_text(_SURROGATE.sub("\ufffd", check_question(text)))


def get_recorder(request: Request) -> QuestionRecorder:
    recorder: QuestionRecorder = request.app.state.recorder
    return recorder


Recorder = Annotated[QuestionRecorder, Depends(get_recorder)]


def channel_of(request: Request) -> Channel:
    """ "web" for the citizens' chat page (its script says so), "api" for everything else."""
    value: Literal["web", "api"] = "web" if request.headers.get(CHANNEL_HEADER, "").strip().lower() == "web" else "api"
    return value


def session_of(request: Request) -> str | None:
    """The X-Session-Id header if it is an opaque random token, else None (dropped).

    QuestionLog.record checks again and stores only a keyed hash of it, never the value as sent.
    """
    value = request.headers.get(SESSION_HEADER)
    return value if acceptable_session_id(value) else None


__all__ = [
    "CHANNEL_HEADER",
    "SESSION_HEADER",
    "QuestionRecorder",
    "Recorder",
    "channel_of",
    "edge_question",
    "session_of",
]
