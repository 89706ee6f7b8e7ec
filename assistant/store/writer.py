"""A bounded queue and one writer thread that batches: logging off the request path.

A request hands its entry to `submit` (a non-blocking put) and answers at once; the writer thread
takes whatever has queued up, up to `batch_size`, and writes it in one transaction. So a burst of
questions costs one commit per batch, not one per question, and a slow or unreachable database
delays only the log, never an answer.

- Overflow: when the queue is full the entry is dropped and counted (`WriterStats.dropped`), never
  waited for; the owner reports it.
- Outage: a batch that fails is kept and retried with a growing pause (up to `max_retry_seconds`);
  meanwhile new entries queue up to the bound and then overflow. So a short outage loses nothing.
- Clean shutdown: `close` stops accepting, writes everything queued (one last try if failing) and
  counts what could not be written. Only a hard kill (SIGKILL, power loss) loses the entries still
  in the queue — at most a few milliseconds' worth while the database keeps up.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger("policy_assistant.qlog")

T = TypeVar("T")
_STOP = object()


@dataclass(frozen=True)
class WriterStats:
    """What the writer has done so far, for /healthz and the logs."""

    queued: int  # waiting now
    written: int  # committed since start
    dropped: int  # lost since start (queue full, or unwritable at shutdown)
    batches: int  # commits since start
    failing: bool  # the last write attempt failed
    error: str | None  # why, when failing
    last_drop: float | None  # monotonic time of the last drop


class BatchWriter(Generic[T]):
    """Feed `sink` batches of submitted items from one background thread."""

    def __init__(
        self,
        sink: Callable[[Sequence[T]], None],
        *,
        capacity: int = 10_000,
        batch_size: int = 500,
        max_retry_seconds: float = 30.0,
        name: str = "question-log-writer",
        on_failure: Callable[[BaseException], None] | None = None,
        on_recovery: Callable[[], None] | None = None,
    ) -> None:
        if capacity < 1 or batch_size < 1:
            raise ValueError("capacity and batch_size must be at least 1")
        self._sink = sink
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._batch_size = batch_size
        self._max_retry = max_retry_seconds
        self._name = name
        self._on_failure = on_failure
        self._on_recovery = on_recovery
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._submitted = 0  # items accepted (sequence numbers 1..submitted)
        self._finished = 0  # items written or given up on, in submission order
        self._written = 0
        self._dropped = 0
        self._batches = 0
        self._failing = False
        self._error: str | None = None
        self._last_drop: float | None = None

    # -- producer side --------------------------------------------------------------------------

    def submit(self, item: T) -> bool:
        """Queue `item` for writing; False (and counted) when it had to be dropped."""
        with self._lock:
            if self._closed:
                self._count_drop(1)
                return False
            if self._thread is None:  # started on first use: a worker that logs nothing has no thread
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self._count_drop(1)
                return False
            self._submitted += 1
            return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is written (or given up on); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._done:
            target = self._submitted
            while self._finished < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> int:
        """Stop accepting, write what is queued, stop the thread; how many items were lost."""
        with self._lock:
            if self._closed:
                return 0
            self._closed = True
            thread = self._thread
            dropped_before = self._dropped
        if thread is not None:
            self._stopping.set()  # cuts a retry pause short: one last attempt, then give up
            self._queue.put(_STOP)  # never blocks for long: the thread is draining
            thread.join(timeout)
        with self._lock:
            # Whatever is still queued (a thread that missed the deadline) is lost, and said so.
            left = self._submitted - self._finished
            if left:
                self._count_drop(left)
                self._finished = self._submitted
            lost = self._dropped - dropped_before
        if lost:
            log.error("关闭时有 %d 条问题日志未能写入(数据库不可用)", lost)
        return lost

    @property
    def stats(self) -> WriterStats:
        with self._lock:
            return WriterStats(
                queued=self._submitted - self._finished,
                written=self._written,
                dropped=self._dropped,
                batches=self._batches,
                failing=self._failing,
                error=self._error,
                last_drop=self._last_drop,
            )

    def _count_drop(self, n: int) -> None:  # with the lock held
        first = self._last_drop is None or time.monotonic() - self._last_drop > 60.0
        self._dropped += n
        self._last_drop = time.monotonic()
        if first:  # one line per episode, not one per dropped question
            log.warning("问题日志队列已满或已关闭,丢弃记录(累计 %d 条);答复照常返回", self._dropped)

    # -- writer thread --------------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[T] = [first]  # type: ignore[list-item]
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True  # write this last batch, then end
                    break
                batch.append(item)  # type: ignore[arg-type]
            self._write(batch)

    def _write(self, batch: list[T]) -> None:
        pause = 0.5
        while True:
            try:
                self._sink(batch)
            except Exception as exc:  # noqa: BLE001 - any failure of the database is an outage
                with self._lock:
                    first = not self._failing
                    self._failing = True
                    self._error = f"{type(exc).__name__}: {exc}"
                if first and self._on_failure is not None:
                    self._on_failure(exc)
                if self._stopping.is_set():  # shutting down: this was the last attempt
                    with self._done:
                        self._count_drop(len(batch))
                        self._finished += len(batch)
                        self._done.notify_all()
                    return
                self._stopping.wait(pause)
                pause = min(pause * 2, self._max_retry)
                continue
            with self._done:
                recovered = self._failing
                self._failing, self._error = False, None
                self._written += len(batch)
                self._batches += 1
                self._finished += len(batch)
                self._done.notify_all()
            if recovered and self._on_recovery is not None:
                self._on_recovery()
            return


__all__ = ["BatchWriter", "WriterStats"]
