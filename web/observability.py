"""Request ids and log hygiene.

Every response carries `X-Request-Id`; server-side log lines written while a request is being
handled start with the same id, so a citizen's "编号" on an error message leads an operator
straight to the traceback. Everything that reaches a log line from outside (paths, exception
messages that quote input, uvicorn's access-log fields) is passed through
`assistant.redact.sanitize_log`: personal data is redacted and CR/LF/control characters become
visible escapes, so input can neither leak into a log nor forge a line of it.
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import traceback
from typing import Any
from urllib.parse import unquote, unquote_plus

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.redact import sanitize_log

from .ratelimit import _parse_ip, _trusted
from .settings import IPNetwork

REQUEST_ID_HEADER = "X-Request-Id"
# What we accept from a trusted proxy's X-Request-Id; anything else is replaced by our own.
_INCOMING_ID_RE = re.compile(r"[A-Za-z0-9._-]{8,64}")

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def new_request_id() -> str:
    return secrets.token_hex(8)


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    rid = state.get("request_id") if isinstance(state, dict) else None
    return rid if isinstance(rid, str) else None


class RequestId:
    """Outermost middleware: assigns the id, exposes it to handlers and logs, and sends it back."""

    def __init__(self, app: ASGIApp, trusted_proxies: tuple[IPNetwork, ...] = ()) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    def _incoming(self, scope: Scope) -> str | None:
        # A load balancer's id ties its log to ours; a client's own id is not trusted.
        client = scope.get("client")
        if not client or not _trusted(_parse_ip(str(client[0])), self.trusted_proxies):
            return None
        value = Headers(scope=scope).get("x-request-id", "")
        return value if _INCOMING_ID_RE.fullmatch(value) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = self._incoming(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        token = current_request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)


def _decoded(text: str) -> str:
    """Percent-decoding (repeated: %2520 is %20 once more), "+" as a space in the query."""
    path, sep, query = text.partition("?")
    for _ in range(3):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    if sep:
        for _ in range(3):
            decoded = unquote_plus(query)
            if decoded == query:
                break
            query = decoded
    return path + sep + query


# Query parameters that are credentials or replay material: WeChat's signature, msg_signature,
# nonce and echostr (a captured set is a replayable request), any token= a client puts in a URL,
# and the subscriber's openid that WeChat adds to each message URL (a stable personal id). Their
# values never reach a log line.
SECRET_PARAMS = ("token", "signature", "msg_signature", "nonce", "echostr", "openid")
_SECRET_PARAM_RE = re.compile(rf"(?i)(^|[?&;])((?:{'|'.join(SECRET_PARAMS)})=)[^&;#]*")


def mask_secrets(target: str) -> str:
    """`target` with the values of SECRET_PARAMS replaced by "***" (the names stay, for debugging)."""
    path, sep, query = target.partition("?")
    return path + sep + _SECRET_PARAM_RE.sub(r"\1\2***", query) if sep else target


def safe_request_target(target: str) -> str:
    """An access log's path and query, decoded the way the app reads them, then redacted.

    uvicorn logs the target percent-encoded, and redaction of the encoded form misses
    "q=138+1234+5678" or "%EF%BC%91…" (full-width digits). Decoding first puts personal data in the
    form the redactor reads (and "%74oken=" in the form the secret mask reads); sanitize_log then
    escapes any control character the decoding produced.
    """
    return sanitize_log(mask_secrets(_decoded(target)))


def _safe_arg(value: Any) -> Any:
    # Numbers keep their type: formats such as %d (uvicorn's status code) need them.
    if value is None or isinstance(value, bool | int | float):
        return value
    return sanitize_log(str(value))


class SafeLogFilter(logging.Filter):
    """Neutralise user-controlled text in log records; prefix the request id when there is one.

    Works on the record before any handler formats it, so it protects every handler and
    formatter (uvicorn's access formatter reads `record.args` by position, so args keep their
    shape). Tracebacks stay multi-line for people, but each line is escaped and indented with
    "  | ", so an exception message cannot produce a line that looks like a new log record.
    """

    def __init__(self, prefix_request_id: bool = True) -> None:
        super().__init__()
        self.prefix_request_id = prefix_request_id

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_policy_assistant_safe", False):
            return True
        record._policy_assistant_safe = True  # type: ignore[attr-defined]
        if record.args:
            if isinstance(record.args, dict):
                record.args = {k: _safe_arg(v) for k, v in record.args.items()}
            elif record.name == "uvicorn.access" and len(record.args) == 5:
                # (client, method, path with query, HTTP version, status): decode the target first.
                client, method, target, version, status = record.args
                record.args = (_safe_arg(client), _safe_arg(method), safe_request_target(str(target)),
                               _safe_arg(version), status)  # fmt: skip
            else:
                record.args = tuple(_safe_arg(a) for a in record.args)
            if not isinstance(record.msg, str):
                record.msg = sanitize_log(str(record.msg))
        else:
            record.msg = sanitize_log(str(record.msg))
        rid = current_request_id.get()
        if self.prefix_request_id and rid and isinstance(record.msg, str):
            record.msg = f"[请求 {rid}] {record.msg}"
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            lines = "".join(traceback.format_exception(*record.exc_info)).splitlines()
            record.exc_text = "\n".join(f"  | {sanitize_log(line)}" for line in lines)
        if record.stack_info:
            record.stack_info = "\n".join(f"  | {sanitize_log(line)}" for line in record.stack_info.splitlines())
        return True


# Loggers whose records can carry request data. A logger's filters do not apply to its
# children, so each is named.
_LOGGERS = ("policy_assistant", "policy_assistant.web", "policy_assistant.qlog", "uvicorn.error")
_ACCESS_LOGGERS = ("uvicorn.access",)


def install_log_filters() -> None:
    """Attach the filter (once) to the loggers the server writes to, and throttle the asyncio
    accept loop's "out of system resource" errors to one line per minute."""
    from .localserver import install_accept_error_throttle

    install_accept_error_throttle()
    for name, prefix in [*((n, True) for n in _LOGGERS), *((n, False) for n in _ACCESS_LOGGERS)]:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SafeLogFilter) for f in logger.filters):
            logger.addFilter(SafeLogFilter(prefix_request_id=prefix))


__all__ = [
    "REQUEST_ID_HEADER",
    "RequestId",
    "SafeLogFilter",
    "current_request_id",
    "install_log_filters",
    "mask_secrets",
    "new_request_id",
    "request_id_of",
    "safe_request_target",
]
