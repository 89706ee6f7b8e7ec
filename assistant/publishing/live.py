"""Serving the current published version and moving to a newer one without a restart.

`Publisher` builds a version in a background thread (one at a time; a publish that arrives during a build triggers one
more build after it, so the last change always gets built). `LiveRelease.poll()` is called on the request path: at most
once per `interval` it stats the shared CURRENT file, and when it names a version this process does not serve yet, the
version is loaded in a background thread and handed to `swap` — questions meanwhile are answered by the Assistant
already loaded. A version that fails to load is logged and not retried for a while; the previous one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..embed import Embedder
from ..service import Assistant
from . import releases as rel

log = logging.getLogger("policy_assistant")

RETRY_FAILED_LOAD_S = 60.0


def load_release(release: rel.Release, embedder: str | Embedder | None = None) -> Assistant:
    """The Assistant of one published version: its own corpus copy and index, never rebuilt here."""
    return Assistant.load(corpus_dir=release.corpus_dir, index_dir=release.index_dir, embedder=embedder, rebuild=False)


def load_current(
    releases: Path, embedder: str | Embedder | None = None, library: Path | None = None
) -> Assistant | None:
    """The current version's Assistant at start-up; None before the first publish, or when the library was edited
    outside /admin since (then the configured library is served, as before versions existed)."""
    release = rel.current_release(releases)
    if release is None:
        return None
    if library is not None and not rel.matches_library(release, library):
        log.warning("政策库在最近一次发布(版本 %s)之后被直接修改,按政策库当前内容启动", release.version)
        return None
    return load_release(release, embedder)


class LiveRelease:
    def __init__(
        self,
        releases: Path,
        swap: Callable[[Assistant], None],
        embedder: Callable[[], str | Embedder | None],
        *,
        interval: float = 1.0,
        served: str | None = None,
    ) -> None:
        self.releases = Path(releases)
        self.swap = swap
        self.embedder = embedder
        self.interval = interval
        self.served = served if served is not None else rel.current_version(self.releases)
        self._next = 0.0
        self._stat: tuple[int, int] | None = None
        self._loading = False
        self._failed: dict[str, float] = {}
        self._lock = threading.Lock()

    def poll(self) -> None:
        now = time.monotonic()
        if now < self._next or self._loading:
            return
        self._next = now + self.interval
        try:
            st = (self.releases / rel.POINTER).stat()
        except OSError:
            return
        stat = (st.st_mtime_ns, st.st_size)
        if stat == self._stat:
            return
        version = rel.current_version(self.releases)
        if version is None or version == self.served or self._failed.get(version, 0.0) > now:
            self._stat = stat
            return
        with self._lock:
            if self._loading:
                return
            self._loading = True
        threading.Thread(target=self._load, args=(version, stat), name=f"release-{version}", daemon=True).start()

    def _load(self, version: str, stat: tuple[int, int]) -> None:
        try:
            assistant = load_release(rel.read_release(self.releases, version), self.embedder())
        except Exception as exc:  # noqa: BLE001 - whatever breaks a version, the loaded one keeps serving
            log.error("新版本 %s 无法载入,继续使用版本 %s:%s", version, self.served or "(初始)", exc)
            self._failed[version] = time.monotonic() + RETRY_FAILED_LOAD_S
        else:
            self.swap(assistant)
            self.served = version
            self._stat = stat
            log.info("已切换到政策库版本 %s", version)
        finally:
            self._loading = False

    def wait(self, version: str, timeout: float = 30.0) -> bool:
        """Poll until `version` is served (for tests and the CLI); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._next = 0.0
            self.poll()
            if self.served == version:
                return True
            time.sleep(0.05)
        return self.served == version


class Publisher:
    """Background builds of the library into new versions, one at a time per process."""

    def __init__(
        self,
        library: Path,
        releases: Path,
        embedder: Callable[[], Embedder],
        *,
        seed: Callable[[], dict[str, Any] | None] = lambda: None,
        on_failure: Callable[[str, str], None] = lambda actor, reason: None,
        on_success: Callable[[rel.Release, str], None] = lambda release, actor: None,
    ) -> None:
        self.library = Path(library)
        self.releases = Path(releases)
        self.embedder = embedder
        self.seed = seed
        self.on_failure = on_failure
        self.on_success = on_success
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = False
        self._pending: str | None = None  # the actor of a publish waiting for the running build
        self.last: rel.Release | None = None

    @property
    def busy(self) -> bool:
        return self._running

    def request(self, actor: str) -> None:
        """Build the library as it is now (soon): returns at once."""
        with self._lock:
            if self._running:
                self._pending = actor
                return
            self._running = True
            self._thread = threading.Thread(target=self._run, args=(actor,), name="library-build", daemon=True)
            self._thread.start()

    def _run(self, actor: str) -> None:
        while True:
            try:
                release = rel.build_release(self.library, self.releases, self.embedder(), actor=actor, seed=self.seed())
            except Exception as exc:
                log.exception("政策库发布失败,继续使用上一版本")
                self.on_failure(actor, rel.failure_reason(exc))
            else:
                self.last = release
                self.on_success(release, actor)
            with self._lock:
                if self._pending is None:
                    self._running = False
                    return
                actor, self._pending = self._pending, None

    def join(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return
            thread.join(0.1)


__all__ = ["LiveRelease", "Publisher", "load_current", "load_release"]
