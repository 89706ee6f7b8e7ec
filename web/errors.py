"""Domain and HTTP errors → responses a person can read, in Chinese.

Clients of the JSON API get `{"error": code, "message": 中文说明}` with a 4xx status; a browser that
asked for a page gets a small HTML page instead. Bad input is never a 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import InvalidQuestion, PolicyAssistantError, UnknownChunk

from .deps import templates

log = logging.getLogger("policy_assistant.web")


class ErrorBody(BaseModel):
    """Every 4xx/5xx body of the JSON API."""

    error: str
    message: str


_ERROR_DOCS = {
    400: "请求内容不是有效的 JSON",
    404: "没有这个条目",
    413: "请求体过大",
    415: "请求不是 JSON(Content-Type 应为 application/json)",
    422: "输入不合要求:问题为空、过长,或字段缺失、类型不对",
    503: "检索服务暂时不可用",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: its error statuses, all with the ErrorBody shape."""
    return {s: {"model": ErrorBody, "description": _ERROR_DOCS[s]} for s in statuses}


_STATUS_MESSAGES = {
    400: ("bad_request", "请求格式有误,请检查后重试"),
    404: ("not_found", "您访问的页面或条目不存在"),
    405: ("method_not_allowed", "不支持这种请求方式"),
    413: ("too_large", "提交的内容太大了,请简要描述您的问题"),
    415: ("unsupported_media_type", "请以 JSON 格式提交,Content-Type 应为 application/json"),
    429: ("too_many_requests", "请求太频繁了,请稍后再试"),
}


def error_json(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.url.path == "/healthz":
        return False
    return "text/html" in request.headers.get("accept", "")


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _validation_message(errors: Sequence[Any]) -> tuple[int, str, str]:
    first = errors[0] if errors else {}
    kind = first.get("type", "")
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = loc[0] if loc else ""
    if kind == "json_invalid":
        return 400, "invalid_json", '请求内容不是有效的 JSON,示例:{"question": "灵活就业有什么补贴?"}'
    if kind == "missing":
        if not field:
            return 422, "invalid_request", '请求体不能为空,示例:{"question": "灵活就业有什么补贴?"}'
        return 422, "invalid_request", f"缺少字段 {field}"
    if not field or kind in ("model_attributes_type", "dict_type"):
        return 422, "invalid_request", '请求体必须是 JSON 对象,示例:{"question": "灵活就业有什么补贴?"}'
    if kind == "string_too_long":
        return 422, "invalid_request", f"字段 {field} 太长了"
    if kind.startswith("string"):
        return 422, "invalid_question", f"字段 {field} 必须是文字(字符串)"
    if kind.startswith("int"):
        return 422, "invalid_request", f"字段 {field} 必须是整数"
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        return 422, "invalid_request", f"字段 {field} 超出允许的范围"
    return 422, "invalid_request", f"字段 {field} 的值不正确"


async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    content_type = request.headers.get("content-type", "")
    length = request.headers.get("content-length", "")
    has_body = request.headers.get("transfer-encoding") == "chunked" or (length.isdigit() and int(length) > 0)
    if request.method in ("POST", "PUT", "PATCH") and has_body and not _is_json(content_type):
        code, message = _STATUS_MESSAGES[415]
        return error_json(415, code, message)
    status, code, message = _validation_message(exc.errors())
    return error_json(status, code, message)


async def on_invalid_question(request: Request, exc: Exception) -> Response:
    return error_json(422, "invalid_question", str(exc))


async def on_unknown_chunk(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UnknownChunk)
    message = f"没有编号为“{exc.chunk_id}”的条目"
    if wants_html(request):
        return not_found_page(request, message)
    return error_json(404, "not_found", message)


async def on_library_error(request: Request, exc: Exception) -> Response:
    # The index or embedder failed while answering: the service, not the question, is at fault.
    log.error("library error on %s: %s", request.url.path, exc)
    bot = getattr(request.app.state, "assistant", None)
    phone = f",或拨打政策咨询电话 {bot.phone}" if bot else ""
    return error_json(503, "unavailable", f"服务暂时不可用,请稍后再试{phone}")


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _STATUS_MESSAGES.get(exc.status_code, ("error", "请求未能完成,请稍后再试"))
    if exc.status_code == 404 and wants_html(request):
        return not_found_page(request, message)
    response = error_json(exc.status_code, code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


class CatchAll:
    """Turn an unexpected exception into a JSON 500 *inside* the header middleware.

    Starlette runs an `Exception` handler outside all user middleware, so its response would miss
    the security headers; catching here keeps every response, even a crash, under the same policy.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error on %s", scope.get("path"))
            if started:
                raise
            response = error_json(500, "internal_error", "服务器出了点问题,请稍后再试")
            await response(scope, receive, send)


def not_found_page(request: Request, message: str) -> HTMLResponse:
    bot = getattr(request.app.state, "assistant", None)
    return templates.TemplateResponse(
        request, "404.html", {"message": message, "phone": bot.phone if bot else ""}, status_code=404
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidQuestion, on_invalid_question)
    app.add_exception_handler(UnknownChunk, on_unknown_chunk)
    app.add_exception_handler(PolicyAssistantError, on_library_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


__all__ = ["CatchAll", "ErrorBody", "documented", "error_json", "install"]
