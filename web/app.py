"""The web edge: FastAPI app with the citizens' chat, the hotline lookup and the JSON API.

`policy-assistant serve` runs `uvicorn.run("web.app:create_app", factory=True)`; tests pass a ready
Assistant to `create_app`. With none, the Assistant is loaded once in the lifespan, before the first
request, and shared by all requests of this worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from assistant import Assistant

from . import api, errors, pages
from .deps import STATIC_DIR, templates
from .security import BodyLimit, SecurityHeaders

# Questions are at most 500 characters; anything near this is not a question.
MAX_BODY_BYTES = 64 * 1024

DESCRIPTION = """\
城阳区就业政策咨询助手(青城政办发〔2024〕13号)的接口。答复全部来自政策原文检索与固定模板,不做文本生成。

- `POST /api/ask` 提问,返回答复约定(question, matched, kind, measures, phone, answer)
- `GET /api/measures`、`GET /api/measures/{id}` 浏览条目(m1…m20、guiding、org1…org3、notice)
- `GET /api/search?q=` 工作人员检索,带命中原因
- 错误一律返回 `{"error": 代码, "message": 中文说明}`
"""


def _docs_static_dir() -> Path:
    # Swagger UI's files come from the fastapi-offline package, so /docs works with no CDN.
    return Path(str(files("fastapi_offline") / "static"))


def create_app(assistant: Assistant | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.assistant is None:
            app.state.assistant = await run_in_threadpool(Assistant.load)
        yield

    app = FastAPI(
        title="城阳区就业政策咨询助手",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.assistant = assistant

    errors.install(app)
    # Added last = outermost: the headers also land on the 500s that CatchAll produces.
    app.add_middleware(errors.CatchAll)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(SecurityHeaders)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-static", StaticFiles(directory=_docs_static_dir()), name="docs-static")

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "docs.html", {"openapi_url": app.openapi_url})

    app.include_router(api.router)
    app.include_router(pages.router)
    return app


__all__ = ["create_app"]
