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
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import InvalidQuestion, PolicyAssistantError, UnknownChunk
from assistant.errors import UnknownGroup

from .deps import ServiceUnavailable, templates
from .observability import request_id_of

log = logging.getLogger("policy_assistant.web")


class ErrorBody(BaseModel):
    """Every 4xx/5xx body of the JSON API."""

    error: str
    message: str
    request_id: str | None = Field(
        default=None, description="仅服务端错误(5xx)带:请求编号,与响应头 X-Request-Id 相同,便于排查"
    )


_ERROR_DOCS = {
    400: "请求内容不是有效的 JSON",
    404: "没有这个条目",
    413: "请求体过大",
    415: "请求不是 JSON(Content-Type 应为 application/json)",
    422: "输入不合要求:问题为空、过长,或字段缺失、类型不对",
    429: "提问太频繁(按客户端限流);Retry-After 头给出需等待的秒数",
    503: "检索服务暂时不可用",
}

_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    429: {"Retry-After": {"description": "再次提问前需等待的秒数", "schema": {"type": "integer", "minimum": 1}}},
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: its error statuses, all with the ErrorBody shape."""
    out: dict[int | str, dict[str, Any]] = {}
    for s in statuses:
        out[s] = {"model": ErrorBody, "description": _ERROR_DOCS[s]}
        if s in _ERROR_HEADERS:
            out[s]["headers"] = _ERROR_HEADERS[s]
    return out


_STATUS_MESSAGES = {
    400: ("bad_request", "请求格式有误,请检查后重试"),
    404: ("not_found", "您访问的页面或条目不存在"),
    405: ("method_not_allowed", "不支持这种请求方式"),
    413: ("too_large", "提交的内容太大了,请简要描述您的问题"),
    415: ("unsupported_media_type", "请以 JSON 格式提交,Content-Type 应为 application/json"),
    429: ("too_many_requests", "请求太频繁了,请稍后再试"),
}


def error_json(status: int, code: str, message: str, request_id: str | None = None) -> JSONResponse:
    body = {"error": code, "message": message}
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status)


def _request_id(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else None


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
    message = str(exc) if isinstance(exc, UnknownGroup) else f"没有编号为“{exc.chunk_id}”的条目"
    if wants_html(request):
        return not_found_page(request, message)
    return error_json(404, "not_found", message)


async def on_library_error(request: Request, exc: Exception) -> Response:
    # The index or embedder failed while answering, or the service could not start: the
    # service, not the question, is at fault. The log line carries the request id (filter);
    # a failed start-up was logged once when it happened, not again for every request.
    if not isinstance(exc, ServiceUnavailable):
        log.error("服务不可用 %s %s: %s", request.method, request.url.path, exc)
    bot = getattr(request.app.state, "assistant", None)
    phone = f",或拨打政策咨询电话 {bot.phone}" if bot else ""
    message = f"服务暂时不可用,请稍后再试{phone}"
    rid = _request_id(request)
    if wants_html(request):
        return error_page(request, message, 503, heading="服务暂时不可用")
    return error_json(503, "unavailable", message, rid)


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
            rid = request_id_of(scope)
            # The path and the exception text come from outside; the log filter escapes them.
            log.exception("未处理的异常 %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            message = "服务器出了点问题,请稍后再试" + (f"。如需反映,请提供编号 {rid}" if rid else "")
            await error_json(500, "internal_error", message, rid)(scope, receive, send)


def error_page(request: Request, message: str, status: int, heading: str = "页面不存在") -> HTMLResponse:
    bot = getattr(request.app.state, "assistant", None)
    context = {"message": message, "phone": bot.phone if bot else "", "heading": heading}
    return templates.TemplateResponse(request, "404.html", context, status_code=status)


def not_found_page(request: Request, message: str) -> HTMLResponse:
    return error_page(request, message, 404)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidQuestion, on_invalid_question)
    app.add_exception_handler(UnknownChunk, on_unknown_chunk)
    app.add_exception_handler(PolicyAssistantError, on_library_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


__all__ = ["CatchAll", "ErrorBody", "documented", "error_json", "error_page", "install"]
