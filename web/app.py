"""The web edge: FastAPI app with the citizens' chat, the hotline lookup and the JSON API.

`policy-assistant serve` runs `uvicorn.run("web.app:create_app", factory=True)`; tests pass a ready
Assistant (and settings) to `create_app`. With none, the Assistant is loaded once in the lifespan,
before the first request, and shared by all requests of this worker. If it cannot be loaded the app
still starts, answers 503 with the reason and says so on /healthz: a worker that exits is restarted
by its process manager and fails the same way again, a crash loop that hides the message.

Middleware, outermost first: ForwardedProto → RequestId → SecurityHeaders → CatchAll → RateLimit → QuestionGate →
BodyLimit → app, so every response, even a 413, 429, a busy 503 or a crash turned into a 500,
carries the id and the headers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from assistant import Assistant, PolicyAssistantError
from assistant.publishing.live import load_current
from assistant.publishing.releases import current_version
from assistant.store import SharedStateHandle

from . import admin, admin_documents, api, errors, feedback, library_live, pages, wechat
from .deps import STATIC_DIR, templates
from .observability import RequestId, install_log_filters
from .questions import QuestionRecorder
from .ratelimit import RateLimiter
from .security import BodyLimit, ForwardedProto, QuestionGate, RateLimit, SecurityHeaders
from .settings import MAX_BODY_BYTES, WebSettings

log = logging.getLogger("policy_assistant.web")

DESCRIPTION = """\
城阳区就业政策咨询助手(青城政办发〔2024〕13号)的接口。答复全部来自政策原文检索与固定模板,不做文本生成。

- `POST /api/ask` 提问,返回答复约定(question, matched, kind, measures, phone, answer)
- `GET /api/measures`、`GET /api/measures/{id}` 浏览条目(m1…m20、guiding、org1…org3、notice)
- `POST /api/search` 工作人员检索,带命中原因(问题只放在请求体里,不进网址和访问日志)
- 错误一律返回 `{"error": 代码, "message": 中文说明}`;服务端错误另带 `request_id`(同响应头 `X-Request-Id`)
- `POST /api/feedback` 对答复投“有帮助/没帮助”(用答复里的 `answer_id`),同一条以最后一次为准
- `POST /api/ask`、`POST /api/feedback` 按客户端限流(默认每分钟 30 次),超出返回 429 和 `Retry-After`
- 可选请求头:`X-Session-Id`(匿名会话编号,字母数字、`-`、`_`,至多 64 位)、`X-Channel: web`(市民聊天页)
"""


def _docs_static_dir() -> Path:
    # Swagger UI's files come from the fastapi-offline package, so /docs works with no CDN.
    return Path(str(files("fastapi_offline") / "static"))


def _startup_error(exc: Exception) -> str:
    if isinstance(exc, PolicyAssistantError):
        detail = str(exc)
    else:  # e.g. an OSError from a read-only or misplaced index directory
        detail = f"{type(exc).__name__}: {exc}"
    return (
        f"政策检索服务无法启动:{detail}。请检查 POLICY_ASSISTANT_INDEX 指向的索引目录可写"
        "(或先运行 policy-assistant build),然后重启服务"
    )


def create_app(assistant: Assistant | None = None, settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings.from_env()
    install_log_filters()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.assistant is None:
            try:
                # The last version staff published, when there is one; the configured corpus otherwise.
                current = None
                if settings.releases_dir is not None:
                    try:
                        current = await run_in_threadpool(load_current, settings.releases_dir, None, settings.library_dir)
                    except Exception:  # a damaged version must not keep the configured library from serving
                        log.exception("已发布的政策库版本无法载入,改用配置的政策库")
                app.state.assistant = current or await run_in_threadpool(Assistant.load)
                if current is not None and app.state.live is not None:
                    app.state.live.served = current_version(settings.releases_dir)
            except Exception as exc:
                app.state.startup_error = _startup_error(exc)
                log.exception("%s", app.state.startup_error)
        if settings.admin_token or settings.wechat_token:
            # Opened (and migrated) now, not inside the first WeChat message's 5-second window.
            try:
                await run_in_threadpool(app.state.shared.get)
            except PolicyAssistantError as exc:  # retried on first use (WeChat answers 503 meanwhile)
                log.error("共享状态存储无法打开: %s", exc)
        try:
            yield
        finally:
            app.state.recorder.close()
            app.state.staff_log.close()
            if app.state.wechat is not None:
                app.state.wechat.close()
            app.state.shared.close()

    app = FastAPI(
        title="城阳区就业政策咨询助手",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # No trailing-slash redirects: Starlette builds their Location from the Host header, so
        # "POST /api/ask/" with "Host: evil.example" would send the client to evil.example.
        redirect_slashes=False,
    )
    app.state.assistant = assistant
    app.state.startup_error = None
    app.state.settings = settings
    # settings.database_url None means the data dir's SQLite file here: the environment was read
    # once, into settings, and nothing below reads it again ("" tells QuestionLog exactly that).
    app.state.recorder = QuestionRecorder(
        settings.data_dir if settings.question_log else None,
        retention_days=settings.retention_days,
        database_url=settings.database_url or "",
        queue_size=settings.log_queue,
    )
    app.state.limiter = (
        RateLimiter(settings.rate_limit, settings.rate_limit_storage, namespace="ask") if settings.rate_limit else None
    )
    # Votes and the dashboard read the same log through their own handle (see web/feedback.py).
    app.state.staff_log = feedback.StaffLog(
        settings.data_dir if settings.question_log else None, settings.database_url or ""
    )
    # Admin sessions, WeChat nonces/MsgIds/follow-ups and saved lookups, in the log's database so
    # that every replica sees them (in memory when the log is off). Opened on first use.
    app.state.shared = SharedStateHandle(
        settings.data_dir if settings.question_log else None, settings.database_url or ""
    )
    # /admin and /wechat exist only when their token is configured (their routes 404 otherwise).
    app.state.admin_auth = admin.AdminAuth(settings.admin_token, app.state.shared.get) if settings.admin_token else None
    app.state.wechat = wechat.endpoint_for(settings, app.state.shared.get) if settings.wechat_token else None

    library_live.install(app, settings.library_dir, settings.releases_dir)

    errors.install(app)
    # Added last = outermost.
    app.add_middleware(library_live.LiveSwap)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, exempt=frozenset({admin_documents.UPLOAD_PATH}))
    app.state.question_gate_options = {
        "max_active": settings.max_active_questions,
        "max_queued": settings.max_queued_questions,
        "queue_timeout": settings.question_queue_timeout,
    }
    app.add_middleware(QuestionGate, **app.state.question_gate_options)
    if app.state.limiter is not None:
        app.add_middleware(RateLimit, limiter=app.state.limiter, trusted_proxies=settings.trusted_proxies)
        # Votes get a bucket of their own at the same rate: rating answers never costs questions.
        app.add_middleware(
            RateLimit,
            limiter=RateLimiter(settings.rate_limit, settings.rate_limit_storage, namespace="feedback"),
            trusted_proxies=settings.trusted_proxies,
            paths=frozenset({"/api/feedback"}),
        )
    app.add_middleware(errors.CatchAll)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(admin.NoStore, prefixes=("/admin", "/wechat"))  # outside SecurityHeaders: last word
    app.add_middleware(RequestId, trusted_proxies=settings.trusted_proxies)
    # Outermost: https behind the TLS proxy, so cookies get `Secure` (trusted proxies only).
    app.add_middleware(ForwardedProto, trusted_proxies=settings.trusted_proxies)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-static", StaticFiles(directory=_docs_static_dir()), name="docs-static")

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "docs.html", {"openapi_url": app.openapi_url})

    app.include_router(api.router)
    app.include_router(feedback.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.include_router(admin_documents.router)
    app.include_router(wechat.router)
    return app


__all__ = ["MAX_BODY_BYTES", "create_app"]
