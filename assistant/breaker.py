"""A circuit breaker for the embedding model: closed → open → half-open → closed.

Issue 22: one embedding call over the time limit (seen under CPU contention) used to switch dense
retrieval off in that worker until it was restarted. The breaker opens on a slow or failed call
(answers continue from lexical evidence, at once, without queueing behind the model), and after a
cool-down lets one trial call through (half-open); a few fast calls in a row close it again. A
trial that fails reopens it with a longer cool-down (doubling up to `max_cool_down`), so a model
that is gone for good costs one question every few minutes, not one per second.

Why not pybreaker/aiobreaker/purgatory: they count exceptions only (a slow call that returns
is a success to them), read the wall clock (datetime.now) so a test cannot inject time, and let
every concurrent caller into the half-open state at once. What is needed here is small: a slow-call
limit, an injectable monotonic clock, one trial at a time, and each transition logged once.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("policy_assistant")


class BreakerState(enum.Enum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls are refused until the cool-down has passed
    HALF_OPEN = "half_open"  # one trial call at a time; `close_after` fast ones in a row close it


@dataclass(frozen=True)
class BreakerConfig:
    slow_call: float  # seconds: a call that takes longer counts as a failure even if it returns
    cool_down: float = 30.0  # seconds open before the first trial call
    max_cool_down: float = 600.0  # the cool-down doubles after each failed trial, up to this
    close_after: int = 3  # fast trial calls in a row that close the breaker

    def __post_init__(self) -> None:
        if not (self.slow_call > 0 and 0 < self.cool_down <= self.max_cool_down and self.close_after >= 1):
            raise ValueError(f"invalid breaker configuration: {self}")


class CircuitBreaker:
    """Thread-safe; `clock` is a monotonic seconds source (injected by tests)."""

    def __init__(self, name: str, config: BreakerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._reason: str | None = None
        self._opened_at = 0.0
        self._cool_down = config.cool_down
        self._successes = 0
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    @property
    def reason(self) -> str | None:
        """Why calls are (or were, until the breaker closes again) refused; None when closed."""
        with self._lock:
            return self._reason

    def allow(self) -> bool:
        """May a call go through now? In half-open, only one at a time; the caller must then
        report it with `succeeded` or `failed`."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if self.clock() - self._opened_at < self._cool_down:
                    return False
                self._move(BreakerState.HALF_OPEN, f"cool-down of {self._cool_down:g} s over, trying the model again")
                self._successes = 0
            if self._trial_running:
                return False
            self._trial_running = True
            return True

    def succeeded(self, seconds: float, limit: float | None = None) -> None:
        """A call returned a good result after `seconds`; over `limit` (default: the configured
        slow-call limit; the model's first call, which loads it, gets longer) counts as a failure."""
        limit = self.config.slow_call if limit is None else limit
        if seconds > limit:
            self.failed(f"向量模型耗时 {seconds:.1f} 秒,超过 {limit:g} 秒的限制(超时)")
            return
        with self._lock:
            if self._state is not BreakerState.HALF_OPEN:
                return
            self._trial_running = False
            self._successes += 1
            if self._successes >= self.config.close_after:
                self._cool_down = self.config.cool_down
                self._reason = None
                self._move(BreakerState.CLOSED, f"{self._successes} fast calls in a row, dense retrieval restored")

    def failed(self, reason: str) -> None:
        """A call failed, broke the contract or took too long: open (again)."""
        with self._lock:
            self._trial_running = False
            if self._state is BreakerState.OPEN:
                return  # a call that was already running when the breaker opened: nothing new
            if self._state is BreakerState.HALF_OPEN:
                self._cool_down = min(self._cool_down * 2, self.config.max_cool_down)
            self._reason = reason
            self._opened_at = self.clock()
            self._move(
                BreakerState.OPEN,
                f"dense retrieval disabled, answering from lexical evidence only for {self._cool_down:g} s: {reason}",
            )

    def _move(self, to: BreakerState, why: str) -> None:
        # Called with the lock held; a transition happens once, so it is logged once.
        level = logging.ERROR if to is BreakerState.OPEN else logging.WARNING
        if to is BreakerState.CLOSED:
            level = logging.INFO
        log.log(level, "%s circuit %s → %s: %s", self.name, self._state.value, to.value, why)
        self._state = to


__all__ = ["BreakerConfig", "BreakerState", "CircuitBreaker"]
