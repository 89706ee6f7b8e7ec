"""Staff dashboard `/admin`: what citizens ask and miss, a glossary workbench and CSV exports.

Exists only when POLICY_ASSISTANT_ADMIN_TOKEN is set; otherwise every /admin URL is a plain 404,
so a scanner cannot even tell there is a sign-in page.

Sessions live on the server, in the shared store (assistant/store/shared.py: the question log's
database, PostgreSQL for replicas): the cookie holds a random id, the store its hash, expiry, a
revoked flag and a keyed hash of the admin token it was opened under. So signing out ends the
session on every replica at once, "sign out everywhere" ends all of them, and changing the token
ends every session opened under the old one. A cookie that is no longer a session gets 401 on
every admin route. The CSRF token of a session is an HMAC of its id (session-bound), sent in a
hidden form field; the sign-in form uses a double-submit value that is itself HMAC-signed, so a
cookie planted by a sibling host cannot stand in for it. Wrong tokens are throttled per client and
logged without the token; the right token is always let through (its length is what protects it,
and a shared address must not lock the staff out).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import InvalidQuestion
from assistant.clock import district_today
from assistant.errors import EmbedderError
from assistant.service import check_question
from assistant.stats import (
    DISTRICT_TZ,
    PERIODS,
    Dashboard,
    DayCount,
    build_dashboard,
    period_bounds,
    similarity_for,
    unanswered_csv,
    unhelpful_csv,
)
from assistant.store import SharedState

from .deps import Bot, templates
from .errors import error_page
from .ratelimit import RateLimiter, client_ip
from .settings import Rate

log = logging.getLogger("policy_assistant.web")

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "pa_admin"
LOGIN_COOKIE = "pa_admin_login"
SESSION_SECONDS = 8 * 3600  # one working day
# Wrong tokens per client: 5 at once, then one every 3 minutes (a 32-character token is out of
# reach of guessing at that pace; a typo costs a colleague nothing).
LOGIN_FAILURES = Rate(5, 900.0)
MAX_FORM_FIELDS = 10
SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


class NoStore:
    """`Cache-Control: no-store` on every response under the given prefixes.

    Added outside SecurityHeaders (which sets the general policy), so it has the last word:
    dashboard pages hold citizens' questions and must not sit in any browser or proxy cache.
    """

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = ("/admin",)) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not any(path == p or path.startswith(p + "/") for p in self.prefixes):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_no_store)


class AdminAuth:
    """Token check, server-side sessions, CSRF and sign-in values, and the wrong-token limiter."""

    def __init__(
        self, token: str, store: Callable[[], SharedState], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._token = token.encode("utf-8")
        self._key = hmac.new(self._token, b"policy-assistant admin session v2", hashlib.sha256).digest()
        # Stored with each session: the token itself never is, and a new token matches no old row.
        self.token_hash = hmac.new(self._token, b"policy-assistant admin token id v1", hashlib.sha256).hexdigest()
        self._store = store
        self._clock = clock
        self._failures = RateLimiter(LOGIN_FAILURES)
        self._blocked: dict[str, float] = {}
        self._lock = threading.Lock()

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).hexdigest()

    @staticmethod
    def _id_hash(session_id: str) -> str:
        return hashlib.sha256(session_id.encode("ascii")).hexdigest()

    def token_matches(self, candidate: str) -> bool:
        # compare_digest on bytes: the time taken does not depend on how much of the token is right.
        return hmac.compare_digest(candidate.encode("utf-8"), self._token)

    def new_session(self) -> str:
        session_id = secrets.token_urlsafe(32)
        store = self._store()
        # Sessions opened under an earlier token are revoked for good, not only outvoted.
        store.revoke_all(except_token_hash=self.token_hash)
        store.open_session(self._id_hash(session_id), self.token_hash, SESSION_SECONDS)
        return session_id

    def session_nonce(self, cookie: str | None) -> str | None:
        """The session id of a live, unrevoked session opened under this token; None otherwise."""
        if not cookie or not SESSION_ID_RE.fullmatch(cookie):
            return None
        return cookie if self._store().session_valid(self._id_hash(cookie), self.token_hash) else None

    def revoke(self, session_id: str) -> None:
        self._store().revoke_session(self._id_hash(session_id))

    def revoke_everywhere(self) -> int:
        return self._store().revoke_all()

    def csrf(self, nonce: str) -> str:
        return self._sign(f"csrf.{nonce}")

    def login_value(self) -> str:
        """The sign-in form's double-submit value: random, and signed, so only we can mint one."""
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._sign(f'login.{nonce}')}"

    def login_value_valid(self, value: str) -> bool:
        nonce, _, signature = value.partition(".")
        if not nonce or len(value) > 200 or not nonce.isascii():
            return False
        return hmac.compare_digest(signature, self._sign(f"login.{nonce}"))

    def blocked_for(self, client: str) -> float:
        """Seconds this client must still wait after too many wrong tokens (0 when it may try)."""
        with self._lock:
            until = self._blocked.get(client, 0.0)
        return max(until - self._clock(), 0.0)

    def failed(self, client: str) -> float:
        """Count a wrong token; the seconds the client is now blocked for (0 while under the limit)."""
        wait = self._failures.hit(client)
        if wait > 0:
            with self._lock:
                self._blocked[client] = self._clock() + wait
                if len(self._blocked) > 10_000:  # bounded: drop the blocks that have run out
                    now = self._clock()
                    self._blocked = {k: v for k, v in self._blocked.items() if v > now}
        return wait


def _auth(request: Request) -> AdminAuth:
    auth: AdminAuth | None = getattr(request.app.state, "admin_auth", None)
    if auth is None:  # no token configured: the dashboard does not exist
        raise HTTPException(404)
    return auth


def _nonce(request: Request, auth: AdminAuth) -> str | None:
    return auth.session_nonce(request.cookies.get(SESSION_COOKIE))


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HTTPException(415)
    body = await request.body()
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError as exc:  # more fields than any of our forms has
        raise HTTPException(400) from exc
    return {k: v[-1] for k, v in fields.items()}


def _forbidden(request: Request) -> HTMLResponse:
    return error_page(request, "页面已过期或来源不明,请刷新后重试", 403, heading="请求被拒绝")


def _unauthorized(request: Request) -> HTMLResponse:
    response = error_page(request, "请先登录管理后台", 401, heading="需要登录")
    if request.cookies.get(SESSION_COOKIE):  # a stale session cookie: drop it
        response.delete_cookie(SESSION_COOKIE, path="/admin", httponly=True, samesite="strict", secure=_secure(request))
    return response


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(request: Request, status: int | None = None, message: str = "") -> HTMLResponse:
    """The sign-in form. Shown where a page needs a session: 200 to a browser that had none, 401
    when it sent a cookie that is no (longer a) session — signed out, revoked, expired, or opened
    under an earlier token — and then the stale cookie is removed."""
    stale = status is None and bool(request.cookies.get(SESSION_COOKIE))
    if status is None:
        status = 401 if stale else 200
        message = message or ("登录已失效,请重新登录" if stale else "")
    # Double-submit: the form's hidden value must equal this cookie, which only our page can set,
    # and be signed with the token-derived key, which only this server can do.
    value = _auth(request).login_value()
    response = templates.TemplateResponse(
        request, "admin_login.html", {"csrf": value, "message": message}, status_code=status
    )
    response.set_cookie(
        LOGIN_COOKIE, value, max_age=1800, path="/admin", httponly=True, samesite="strict", secure=_secure(request)
    )
    if stale:
        response.delete_cookie(SESSION_COOKIE, path="/admin", httponly=True, samesite="strict", secure=_secure(request))
    return response


# ---- the dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    day: date
    tick: str  # the date under the bar, or "" where the axis would get crowded


@dataclass(frozen=True)
class Chart:
    """Geometry of the questions-per-day bar chart, drawn as inline SVG by the template."""

    width: int
    height: int
    top: int  # the value of the highest grid line
    grid: tuple[tuple[float, int], ...]  # (y, value)
    bars: tuple[Bar, ...]
    base: float  # y of the x axis


def day_chart(per_day: tuple[DayCount, ...], width: int = 1000, height: int = 240) -> Chart:
    left, right, top_pad, bottom = 36.0, 8.0, 10.0, 26.0
    peak = max((d.count for d in per_day), default=0)
    step = max(1, math.ceil(peak / 4))
    top = step * 4 if peak else 4
    plot_h = height - top_pad - bottom
    slot = (width - left - right) / max(len(per_day), 1)
    every = 1 if len(per_day) <= 10 else 5 if len(per_day) <= 35 else 15
    bars = []
    for i, d in enumerate(per_day):
        h = plot_h * d.count / top
        tick = f"{d.day.month}/{d.day.day}" if (len(per_day) - 1 - i) % every == 0 else ""
        bars.append(Bar(left + i * slot + slot * 0.15, top_pad + plot_h - h, slot * 0.7, h, d.count, d.day, tick))
    grid = tuple((top_pad + plot_h - plot_h * v / top, v) for v in range(0, top + 1, step if peak else 1))
    return Chart(width, height, top, grid, tuple(bars), top_pad + plot_h)


def _today() -> date:
    return district_today()


def dashboard_for(request: Request, bot: Bot, days: int) -> Dashboard | None:
    """The figures for the last `days` days; None when the question log is switched off."""
    qlog = request.app.state.staff_log.get()
    if qlog is None:
        return None
    today = _today()
    since, until = period_bounds(days, today)
    records = qlog.between(since, until)
    measures = [c.id for c in bot.chunks if c.kind == "measure"]
    threshold = similarity_for(bot.embedder.id)
    try:
        return build_dashboard(
            records, days=days, today=today, measures=measures, embed=bot.embedder.queries, threshold=threshold
        )
    except EmbedderError:  # the model is down: group identical wordings only, still show the page
        return build_dashboard(records, days=days, today=today, measures=measures, embed=None)


def _days(request: Request) -> int:
    raw = request.query_params.get("days", "")
    return int(raw) if raw.isdigit() and int(raw) in PERIODS else 7


def _local(created: str) -> str:
    return datetime.fromisoformat(created).astimezone(DISTRICT_TZ).strftime("%m-%d %H:%M") if created else ""


templates.env.filters["local_time"] = _local
templates.env.filters["percent"] = lambda v: "—" if v is None else f"{v * 100:.0f}%"


@router.get("/admin", response_class=HTMLResponse)
async def admin_home(request: Request, bot: Bot) -> Response:
    auth = _auth(request)
    nonce = await run_in_threadpool(_nonce, request, auth)  # a database read: off the event loop
    if nonce is None:
        return _login_page(request)
    days = _days(request)
    dash = await run_in_threadpool(dashboard_for, request, bot, days)
    labels = {c.id: c.label for c in bot.chunks}
    context = {
        "csrf": auth.csrf(nonce),
        "days": days,
        "periods": PERIODS,
        "dash": dash,
        "chart": day_chart(dash.per_day) if dash else None,
        "labels": labels,
        "section": "dashboard",
    }
    return templates.TemplateResponse(request, "admin.html", context)


@router.post("/admin/login", response_class=HTMLResponse)
async def admin_login(request: Request) -> Response:
    auth = _auth(request)
    client = client_ip(request.scope, request.app.state.settings.trusted_proxies)
    form = await _form(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not (expected and auth.login_value_valid(expected) and hmac.compare_digest(form.get("csrf", ""), expected)):
        return _forbidden(request)
    if not auth.token_matches(form.get("token", "")):
        # Only failures are throttled: a shared address (NAT, an untrusted proxy) full of wrong
        # guesses must not lock out the colleague who knows the token.
        wait = auth.blocked_for(client) or auth.failed(client)
        # The client address and nothing of what was typed: a near-miss token in the log is a leak.
        log.warning("管理后台登录失败:口令错误,来自 %s", client)
        if wait > 0:
            return _too_many(request, wait)
        return _login_page(request, 401, "口令不正确")
    session = await run_in_threadpool(auth.new_session)
    log.info("管理后台登录成功,来自 %s", client)
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=SESSION_SECONDS,
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/admin")
    return response


def _too_many(request: Request, wait: float) -> HTMLResponse:
    seconds = max(1, math.ceil(wait))
    response = error_page(request, f"口令错误次数太多,请 {seconds} 秒后再试", 429, heading="请稍后再试")
    response.headers["Retry-After"] = str(seconds)
    return response


async def _checked_post(request: Request, auth: AdminAuth) -> tuple[str, dict[str, str]] | Response:
    """(nonce, form) of a signed-in POST with the session's CSRF token; else the refusal."""
    nonce = await run_in_threadpool(_nonce, request, auth)
    if nonce is None:
        return _unauthorized(request)
    form = await _form(request)
    if not hmac.compare_digest(form.get("csrf", ""), auth.csrf(nonce)):
        return _forbidden(request)
    return nonce, form


def _signed_out(request: Request) -> Response:
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin", httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.post("/admin/logout")
async def admin_logout(request: Request) -> Response:
    auth = _auth(request)
    checked = await _checked_post(request, auth)
    if isinstance(checked, Response):
        return checked
    await run_in_threadpool(auth.revoke, checked[0])  # the cookie is dead everywhere, not only here
    return _signed_out(request)


@router.post("/admin/logout-all")
async def admin_logout_everywhere(request: Request) -> Response:
    """Sign out everywhere: every session of every staff member, on every replica (a lost laptop)."""
    auth = _auth(request)
    checked = await _checked_post(request, auth)
    if isinstance(checked, Response):
        return checked
    ended = await run_in_threadpool(auth.revoke_everywhere)
    log.warning("管理后台:已退出所有设备上的登录(%d 个会话),来自 %s", ended,
                client_ip(request.scope, request.app.state.settings.trusted_proxies))  # fmt: skip
    return _signed_out(request)


# ---- glossary workbench -------------------------------------------------------------------------


@router.get("/admin/glossary", response_class=HTMLResponse)
def glossary_page(request: Request, bot: Bot) -> Response:
    auth = _auth(request)
    nonce = _nonce(request, auth)
    if nonce is None:
        return _login_page(request)
    return templates.TemplateResponse(
        request, "admin_glossary.html", {"csrf": auth.csrf(nonce), "q": "", "section": "glossary"}
    )


@router.post("/admin/glossary", response_class=HTMLResponse)
async def glossary_try(request: Request, bot: Bot) -> Response:
    # POST, so phrases (often a citizen's words pasted in) stay out of URLs and access logs.
    auth = _auth(request)
    checked = await _checked_post(request, auth)
    if isinstance(checked, Response):
        return checked
    nonce, form = checked
    q = form.get("q", "").strip()
    context: dict[str, Any] = {"csrf": auth.csrf(nonce), "q": q, "section": "glossary"}
    try:
        question = check_question(q)
    except InvalidQuestion as exc:
        context["error"] = str(exc)
        return templates.TemplateResponse(request, "admin_glossary.html", context, status_code=422)
    context["expansion"] = bot.lexicon.expand(question)
    context["hits"] = await run_in_threadpool(bot.search, question, 10)
    return templates.TemplateResponse(request, "admin_glossary.html", context)


# ---- CSV exports --------------------------------------------------------------------------------


@router.get("/admin/export/{kind}.csv")
def export(kind: str, request: Request, bot: Bot) -> Response:
    auth = _auth(request)
    if kind not in ("unanswered", "unhelpful"):
        raise HTTPException(404)
    if _nonce(request, auth) is None:
        return _unauthorized(request)
    days = _days(request)
    dash = dashboard_for(request, bot, days)
    if dash is None:
        return error_page(request, "问题日志未启用,没有可导出的内容", 404)
    if kind == "unanswered":
        text = unanswered_csv(dash)
    else:
        text = unhelpful_csv(dash, {c.id: c.label for c in bot.chunks})
    name = f"{kind}-{dash.start.isoformat()}-{dash.end.isoformat()}.csv"
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


__all__ = ["AdminAuth", "NoStore", "dashboard_for", "day_chart", "router"]
