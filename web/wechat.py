"""WeChat Official Account endpoint `/wechat` (server protocol, plaintext mode).

WeChat calls this URL for the account: `GET` once to verify it (echo `echostr` when the
signature is right), then `POST` one XML message per citizen message, and shows our passive
reply, an XML document, in the chat. Setup and safe mode: docs/WECHAT.md.

What protects it:
- the endpoint exists only when POLICY_ASSISTANT_WECHAT_TOKEN is set (otherwise 404);
- every request must carry signature = sha1(sorted [token, timestamp, nonce]) and a timestamp
  within ±300 s; a MsgId already answered gets the empty "success" reply (WeChat retries a
  message up to three times; a captured request replayed later is stale by then);
- XML is parsed by defusedxml with DTDs refused, so entity bombs and external entities are
  rejected (400) before anything is expanded or fetched;
- WeChat drops a reply that takes over 5 s: the question gets a time budget (4 s by default);
  past it the answer comes from lexical retrieval alone, which needs no model.
Follow-ups (「那找哪个部门?」) work per subscriber: the previous answer's measure ids are kept in
memory for a few minutes under an HMAC of the subscriber's OpenID, never the OpenID itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from cachetools import TTLCache
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException

from assistant import Assistant, PolicyAssistantError
from assistant.answer import Answer
from assistant.qlog import entry_from_answer
from assistant.retrieve import Retriever

from .deps import Bot
from .questions import edge_question

log = logging.getLogger("policy_assistant.web")

router = APIRouter(include_in_schema=False)

MAX_REPLY_BYTES = 2048  # WeChat's limit on a passive text reply's Content, UTF-8 bytes
MAX_SKEW_SECONDS = 300  # accepted distance between the request's timestamp and our clock
# Longer than the freshness window, so a replay is either still remembered or already stale.
REPLAY_TTL_SECONDS = 2 * MAX_SKEW_SECONDS
CONTEXT_TTL_SECONDS = 600  # how long 「那……呢?」 refers to the previous answer
MAX_REMEMBERED = 50_000  # message ids and subscribers kept per worker (bounded memory)
SUCCESS = "success"  # WeChat's "received, no reply" body
XML_TYPE = "application/xml; charset=utf-8"


@dataclass(frozen=True)
class Message:
    to_user: str  # our account's id
    from_user: str  # the subscriber's OpenID
    created: str
    msg_type: str
    content: str
    msg_id: str
    event: str
    recognition: str  # speech-to-text of a voice message, when the account has it switched on

    @property
    def key(self) -> str:
        """What identifies a delivery across WeChat's retries: MsgId, or sender + time for events."""
        return self.msg_id or f"{self.from_user}|{self.created}|{self.event}"


def signature_of(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode("utf-8")).hexdigest()


def parse_message(body: bytes) -> Message:
    """The message's fields. Raises ValueError for anything that is not a plain XML message."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError) as exc:
        raise ValueError(f"XML 无效或含 DTD/实体:{type(exc).__name__}") from exc
    if not isinstance(root, Element) or root.tag != "xml":
        raise ValueError("根元素应为 <xml>")

    def text(name: str) -> str:
        return (root.findtext(name) or "").strip()

    return Message(
        to_user=text("ToUserName"),
        from_user=text("FromUserName"),
        created=text("CreateTime"),
        msg_type=text("MsgType").lower(),
        content=text("Content"),
        msg_id=text("MsgId"),
        event=text("Event").lower(),
        recognition=text("Recognition"),
    )


def _cdata(text: str) -> str:
    # "]]>" would end the section early: split it across two sections. Characters XML 1.0 does
    # not allow at all (most C0 controls) are dropped.
    clean = "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(message: Message, content: str, now: int) -> str:
    return (
        "<xml>"
        f"<ToUserName>{_cdata(message.from_user)}</ToUserName>"
        f"<FromUserName>{_cdata(message.to_user)}</FromUserName>"
        f"<CreateTime>{now}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )


# ---- the reply text -----------------------------------------------------------------------------


def _fit(text: str, room: int) -> str:
    """`text` cut to at most `room` UTF-8 bytes at a character boundary, marked with "…"."""
    if len(text.encode("utf-8")) <= room:
        return text
    cut = text.encode("utf-8")[: max(room - 3, 0)].decode("utf-8", "ignore")
    return cut + "…"


def fit_reply(body: Sequence[str], tail: str, limit: int = MAX_REPLY_BYTES) -> str:
    """Body lines in order, then `tail` (the phone line), in at most `limit` bytes.

    The tail is never cut: its bytes are reserved first and the body gives way, line by line,
    the last line that does not fit cut short with "…" when enough of it would remain to read.
    """
    room = limit - len(tail.encode("utf-8")) - 1  # the newline before the tail
    kept: list[str] = []
    for line in body:
        need = len(line.encode("utf-8")) + (1 if kept else 0)
        if need <= room:
            kept.append(line)
            room -= need
            continue
        if room - (1 if kept else 0) >= 60:  # a line cut to a few words helps nobody
            kept.append(_fit(line, room - (1 if kept else 0)))
        break
    return "\n".join([*kept, tail]) if kept else tail


def reply_text(answer: Answer, limit: int = MAX_REPLY_BYTES) -> str:
    """The WeChat reply for an answer: key lines, then measure titles and units, then the phone."""
    lines = [line.rstrip() for line in answer.answer.split("\n")]
    phone_lines = [line for line in lines if answer.phone in line]
    tail = phone_lines[-1].strip() if phone_lines else f"政策咨询电话:{answer.phone}"
    if answer.kind != "answer" or not answer.measures:
        body = [line for line in lines if line.strip() != tail]
        return fit_reply(body, tail, limit)
    body = [line for line in lines if line.startswith("▶ ")]
    if not body:  # no sentence stood out: the start of the best measure's text instead
        first = answer.measures[0]
        body = [f"▶ 第{first.number}条:{_fit(first.quote, 450)}" if first.number else _fit(first.quote, 450)]
    body.append("")
    body.append("相关条目:")
    for m in answer.measures:
        head = f"· 第{m.number}条 {m.title}" if m.number else f"· {m.title}"
        body.append(head)
        if m.lead_units:
            body.append(f"  责任单位:{'、'.join(m.lead_units)}")
        # Validity warnings (「已过」) matter more than the units; unless a key line said them already.
        body.extend(f"  提示:{n}" for n in m.notes if not any(n in line for line in body))
    body.append("")
    return fit_reply(body, tail, limit)


def welcome_text(bot: Assistant, limit: int = MAX_REPLY_BYTES) -> str:
    doc = bot.corpus.primary_doc.meta
    title = getattr(doc, "title", "") or "城阳区就业政策"
    body = [
        "您好,欢迎关注!我是城阳区就业政策咨询助手,可以为您查询"
        f"《{title}》中的就业创业扶持措施,原文引用并告诉您责任单位。",
        "您可以直接发文字提问,比如:",
        *(f"· {s}" for s in bot.suggestions()[:4]),
    ]
    return fit_reply(body, f"政策咨询电话:{bot.phone}", limit)


def other_text(bot: Assistant) -> str:
    example = next(iter(bot.suggestions()), "灵活就业有什么补贴?")
    return fit_reply(
        [f"目前只能回答文字提问。请直接输入您想咨询的就业政策问题,比如:“{example}”"],
        f"政策咨询电话:{bot.phone}",
    )


def busy_text(bot: Assistant) -> str:
    return f"咨询的人较多,请稍后再问;急事请直接拨打政策咨询电话:{bot.phone}"


# ---- per-worker state ---------------------------------------------------------------------------


class WeChatEndpoint:
    """Token, replay and follow-up memory, and the pool that holds questions to their budget."""

    def __init__(self, token: str, budget: float = 4.0, clock: Callable[[], float] = time.time) -> None:
        self.token = token
        self.budget = budget
        self.clock = clock
        # Keyed by the token, so every worker (and a restarted one) hashes a subscriber alike.
        self._user_key = hmac.new(token.encode("utf-8"), b"policy-assistant wechat user v1", hashlib.sha256).digest()
        self._seen: TTLCache[str, bool] = TTLCache(maxsize=MAX_REMEMBERED, ttl=REPLAY_TTL_SECONDS, timer=time.monotonic)
        self._contexts: TTLCache[str, tuple[str, ...]] = TTLCache(
            maxsize=MAX_REMEMBERED, ttl=CONTEXT_TTL_SECONDS, timer=time.monotonic
        )
        self._lock = threading.Lock()
        # A question that overruns its budget keeps its thread until the model returns; a small
        # pool bounds how many can pile up, and a full pool just means the lexical path answers.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wechat-ask")
        self._lexical: dict[int, Assistant] = {}

    def verify(self, signature: str, timestamp: str, nonce: str) -> bool:
        if not (signature and timestamp.isdigit() and nonce) or len(timestamp) > 12:
            return False
        if abs(self.clock() - int(timestamp)) > MAX_SKEW_SECONDS:
            return False
        expected = signature_of(self.token, timestamp, nonce)
        return hmac.compare_digest(signature.lower().encode("ascii", "replace"), expected.encode("ascii"))

    def first_delivery(self, key: str) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = True
            return True

    def user_key(self, openid: str) -> str:
        digest = hmac.new(self._user_key, openid.encode("utf-8"), hashlib.sha256).digest()[:16]
        return base64.b32encode(digest).decode("ascii").rstrip("=").lower()

    def context(self, user: str) -> tuple[str, ...]:
        with self._lock:
            return self._contexts.get(user, ())

    def remember(self, user: str, answer: Answer) -> None:
        with self._lock:
            if answer.kind == "answer" and answer.measures:
                self._contexts[user] = tuple(m.id for m in answer.measures)
            else:  # like the chat page: after a decline there is nothing to follow up on
                self._contexts.pop(user, None)

    def lexical(self, bot: Assistant) -> Assistant:
        """The same corpus and index with dense retrieval off: answers in milliseconds, no model."""
        with self._lock:
            cached = self._lexical.get(id(bot))
            if cached is None:
                r = bot.retriever
                retriever = Retriever(bot.corpus, bot.lexicon, r.index, None, r.weights, use_dense=False)
                cached = self._lexical[id(bot)] = Assistant(bot.corpus, bot.lexicon, bot.embedder, bot.manifest, retriever)
            return cached

    def ask(self, bot: Assistant, question: str, context: tuple[str, ...]) -> Answer | None:
        """The answer within the budget; lexical-only past it; None if even that failed."""
        started = time.monotonic()
        future = self._pool.submit(bot.ask, question, context=list(context) or None)
        try:
            return future.result(timeout=self.budget)
        except FutureTimeout:
            future.cancel()  # still queued behind stuck calls: do not run it at all
            log.warning("微信提问超过 %.1f 秒,改用关键词检索答复", time.monotonic() - started)
        except PolicyAssistantError as exc:
            log.error("微信提问答复失败,改用关键词检索: %s", exc)
        try:
            return self.lexical(bot).ask(question, context=list(context) or None)
        except PolicyAssistantError as exc:
            log.error("关键词检索也失败: %s", exc)
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _endpoint(request: Request) -> WeChatEndpoint:
    endpoint: WeChatEndpoint | None = getattr(request.app.state, "wechat", None)
    if endpoint is None:
        raise HTTPException(404)
    return endpoint


def _refuse(status: int, why: str) -> PlainTextResponse:
    return PlainTextResponse(why, status_code=status)


def _checked(request: Request, endpoint: WeChatEndpoint) -> PlainTextResponse | None:
    q = request.query_params
    if endpoint.verify(q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")):
        return None
    log.warning("微信请求签名无效或已过期,已拒绝")
    return _refuse(403, "签名无效或请求已过期")


@router.get("/wechat")
def verify(request: Request) -> Response:
    endpoint = _endpoint(request)
    refused = _checked(request, endpoint)
    if refused is not None:
        return refused
    return PlainTextResponse(request.query_params.get("echostr", ""))


@router.post("/wechat")
async def receive(request: Request, bot: Bot) -> Response:
    endpoint = _endpoint(request)
    refused = _checked(request, endpoint)
    if refused is not None:
        return refused
    if request.query_params.get("encrypt_type", "raw").lower() not in ("", "raw"):
        log.error("微信消息为安全模式(加密),本服务只支持明文模式:请在公众号后台改为明文模式")
        return _refuse(400, "只支持明文模式")
    try:
        message = parse_message(await request.body())
    except ValueError as exc:
        log.warning("微信消息无法解析,已拒绝: %s", exc)
        return _refuse(400, "消息格式无效")
    if not message.from_user or not message.to_user:
        return _refuse(400, "消息格式无效")
    if not endpoint.first_delivery(message.key):
        return PlainTextResponse(SUCCESS)
    return await run_in_threadpool(_handle, request, bot, endpoint, message)


def _handle(request: Request, bot: Assistant, endpoint: WeChatEndpoint, message: Message) -> Response:
    now = int(endpoint.clock())
    if message.msg_type == "event":
        if message.event != "subscribe":
            return PlainTextResponse(SUCCESS)
        return Response(text_reply(message, welcome_text(bot), now), media_type=XML_TYPE)
    question = message.content if message.msg_type == "text" else message.recognition if message.msg_type == "voice" else ""
    if not question:
        return Response(text_reply(message, other_text(bot), now), media_type=XML_TYPE)
    try:
        checked = edge_question(question)
    except PolicyAssistantError as exc:  # empty or too long: say so, in the chat
        return Response(text_reply(message, f"{exc}\n政策咨询电话:{bot.phone}", now), media_type=XML_TYPE)
    user = endpoint.user_key(message.from_user)
    started = time.perf_counter()
    answer = endpoint.ask(bot, checked, endpoint.context(user))
    latency_ms = (time.perf_counter() - started) * 1000
    if answer is None:
        return Response(text_reply(message, busy_text(bot), now), media_type=XML_TYPE)
    endpoint.remember(user, answer)
    request.app.state.recorder.record(
        entry_from_answer(
            answer.to_dict(), latency_ms=latency_ms, channel="wechat", session_id=user, context_used=answer.context_used
        )
    )
    return Response(text_reply(message, reply_text(answer), now), media_type=XML_TYPE)


__all__ = [
    "MAX_REPLY_BYTES",
    "WeChatEndpoint",
    "fit_reply",
    "parse_message",
    "reply_text",
    "router",
    "signature_of",
    "text_reply",
]
