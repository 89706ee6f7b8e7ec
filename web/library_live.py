"""The policy library's wiring in the web app (issue 21): the staff desk (library folder, versions, background
publisher) and the version watcher every replica runs, whether or not /admin is on.

`LiveSwap` polls the shared CURRENT file on the request path (at most once a second, a stat), so a replica moves to a
newly published version within seconds without a restart; questions meanwhile are answered by the version loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from assistant import Assistant
from assistant.publishing import releases as rel
from assistant.publishing.library import Librarian, LibraryError
from assistant.publishing.live import LiveRelease, Publisher
from assistant.store.audit import record

log = logging.getLogger("policy_assistant.web")


class LibraryDesk:
    """Everything the documents page works with: the library folder, the versions, the background publisher."""

    def __init__(self, app: Any, library: Path, releases: Path) -> None:
        self.app = app
        self.librarian = Librarian(library)
        self.releases = Path(releases)
        self.publisher = Publisher(
            library,
            releases,
            self._embedder,
            seed=self._seed,
            on_failure=self._failed,
        )

    def _bot(self) -> Assistant:
        bot: Assistant | None = self.app.state.assistant
        if bot is None:
            raise LibraryError("政策检索服务尚未就绪,暂时不能发布")
        return bot

    def _embedder(self) -> Any:
        # Builds embed with the model itself, not through the per-question time limit of the serving wrapper.
        emb = self._bot().embedder
        return getattr(emb, "inner", emb)

    def _seed(self) -> dict[str, Any] | None:
        return rel.seed_from_assistant(self._bot())

    def _failed(self, actor: str, reason: str) -> None:
        audit(self.app, actor, "build_failed", "", {"reason": reason})


def install(app: Any, library: Path | None, releases: Path | None) -> None:
    """Set up the desk (admin configured) and the version watcher (any replica with a releases folder)."""
    app.state.library = LibraryDesk(app, library, releases) if library and releases and app.state.admin_auth else None
    app.state.live = None
    if releases is not None:

        def swap(bot: Assistant) -> None:
            app.state.assistant = bot  # one attribute store: a request sees the old or the new, never a mix

        def embedder() -> Any:
            bot = app.state.assistant
            return bot.embedder if bot is not None else None

        app.state.live = LiveRelease(releases, swap, embedder, served=None)


class LiveSwap:
    """Polls the shared CURRENT file (at most once a second, a stat) so this replica moves to a new version."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            live: LiveRelease | None = getattr(scope["app"].state, "live", None)
            if live is not None:
                live.poll()
        await self.app(scope, receive, send)


def audit(app: Any, actor: str, action: str, doc_id: str, detail: dict[str, Any]) -> None:
    qlog = app.state.staff_log.get()
    if qlog is None:
        log.info("政策库操作(未记录:问题日志未启用)%s %s %s", actor, action, doc_id)
        return
    try:
        record(qlog._open(), actor, action, doc_id, detail)
    except Exception:  # the change is made; a log outage must not hide that from staff
        log.exception("政策库操作未能写入审计表:%s %s", action, doc_id)


__all__ = ["LibraryDesk", "LiveSwap", "audit", "install"]
