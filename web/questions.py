"""Recording asked questions in the question log, without ever costing a citizen an answer.

The log is opened lazily (a worker that only serves pages never creates the file) and every
failure is caught: a full disk or a read-only data directory is logged once, the answer is
returned as usual, and writing is retried at most every RETRY_SECONDS until it works again.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request

from assistant.qlog import Channel, LogEntry, QuestionLog, acceptable_session_id
from assistant.redact import redact_text
from assistant.service import check_question

log = logging.getLogger("policy_assistant.web")

RETRY_SECONDS = 30.0
CHANNEL_HEADER = "X-Channel"
SESSION_HEADER = "X-Session-Id"


# Old questions are deleted by the server itself (the privacy notice promises it): on the first
# question a worker records, then at most this often.
PURGE_EVERY_SECONDS = 6 * 3600.0


class QuestionRecorder:
    def __init__(
        self,
        data_dir: Path | None,
        clock: Callable[[], float] | None = None,
        retention_days: int | None = None,
    ) -> None:
        self.data_dir = data_dir  # None: recording is switched off
        self.retention_days = retention_days  # None: keep everything
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
        if self._failing:
            return "failing", self._error
        return "ok", None

    @property
    def enabled(self) -> bool:
        return self.data_dir is not None

    def _open(self) -> QuestionLog:
        with self._lock:
            if self._log is None:
                assert self.data_dir is not None
                self._log = QuestionLog(self.data_dir)
            return self._log

    def record(self, entry: LogEntry) -> bool:
        """Append `entry`; False (and at most one log line per outage) when that failed."""
        if self.data_dir is None:
            return False
        if self._failing and self._clock() < self._retry_at:
            return False
        try:
            self._open().record(entry)
        except Exception as exc:  # never let the log break an answer
            with self._lock:
                first = not self._failing
                self._failing = True
                self._error = f"问题日志无法写入 {self.data_dir}: {type(exc).__name__}: {exc}"
                self._retry_at = self._clock() + RETRY_SECONDS
            if first:
                log.exception("问题日志写入失败,答复照常返回;之后每 %d 秒重试一次", RETRY_SECONDS)
            return False
        if self._failing:
            with self._lock:
                self._failing = False
                self._error = None
            log.warning("问题日志恢复写入: %s", self.data_dir)
        self._purge_if_due()
        return True

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
    check_question(text)
    return redact_text(_SURROGATE.sub("\ufffd", text))


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
