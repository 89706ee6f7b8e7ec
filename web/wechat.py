"""WeChat Official Account endpoint `/wechat` (server protocol: 明文模式, 兼容模式 and 安全模式).

WeChat calls this URL for the account: `GET` once to verify it (echo `echostr` when the
signature is right), then `POST` one XML message per citizen message, and shows our passive
reply, an XML document, in the chat. Setup: docs/WECHAT.md.

What protects it:
- the endpoint exists only when POLICY_ASSISTANT_WECHAT_TOKEN is set (otherwise 404);
- every request must carry signature = sha1(sorted [token, timestamp, nonce]) and a timestamp
  within ±300 s; the (timestamp, nonce, signature) triple is remembered in the shared store for
  the window, so a captured query string replayed with another body is refused on every replica;
- in 安全模式/兼容模式 (encrypt_type=aes) the body is AES-256-CBC under the EncodingAESKey, signed
  by msg_signature, and must name our AppID (web/wechat_crypto.py); replies are encrypted alike;
- a MsgId already seen (WeChat retries a message three times when a reply is slower than 5 s) is
  answered once: a retry gets the stored reply — or the empty "success" while the first delivery
  is still being answered — on whichever replica it lands;
- XML is parsed by defusedxml with DTDs refused, so entity bombs and external entities are
  rejected (400) before anything is expanded or fetched;
- WeChat drops a reply that takes over 5 s: the question gets a time budget (4 s by default);
  past it the answer comes from lexical retrieval alone, which needs no model.
Follow-ups (「那找哪个部门?」) work per subscriber: the previous answer's measure ids are kept in the
shared store for a few minutes under an HMAC of the subscriber's OpenID, never the OpenID itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

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
from assistant.store import SharedState, SharedStateError

from .deps import Bot
from .questions import edge_question
from .settings import WebSettings
from .wechat_crypto import WeChatCrypto, WeChatCryptoError
from .wechat_reply import MAX_REPLY_BYTES, busy_text, fit_reply, other_text, reply_text, welcome_text

log = logging.getLogger("policy_assistant.web")

router = APIRouter(include_in_schema=False)

MAX_SKEW_SECONDS = 300  # accepted distance between the request's timestamp and our clock
# Longer than the freshness window, so a replay is either still remembered or already stale.
REPLAY_TTL_SECONDS = 2 * MAX_SKEW_SECONDS
CONTEXT_TTL_SECONDS = 600  # how long 「那……呢?」 refers to the previous answer
# Kinds of keys in the shared store (assistant/store/shared.py).
NONCES, DELIVERIES, CONTEXTS = "wechat-nonce", "wechat-msg", "wechat-context"
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
    root = _parse_xml(body)

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


def _parse_xml(body: bytes) -> Element:
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError) as exc:
        raise ValueError(f"XML 无效或含 DTD/实体:{type(exc).__name__}") from exc
    if not isinstance(root, Element) or root.tag != "xml":
        raise ValueError("根元素应为 <xml>")
    return root


def encrypted_part(body: bytes) -> str:
    """The <Encrypt> of a 安全模式/兼容模式 message (its plaintext fields, if any, are not trusted)."""
    encrypted = (_parse_xml(body).findtext("Encrypt") or "").strip()
    if not encrypted:
        raise ValueError("安全模式消息缺少 Encrypt")
    return encrypted


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


# ---- state shared by replicas ----------------------------------------------------------------------


class WeChatEndpoint:
    """Token and keys, replay and follow-up memory (in the shared store, so every replica agrees),
    and the pool that holds questions to their budget."""

    def __init__(
        self,
        token: str,
        budget: float = 4.0,
        clock: Callable[[], float] = time.time,
        store: Callable[[], SharedState] | None = None,
        crypto: WeChatCrypto | None = None,
    ) -> None:
        self.token = token
        self.budget = budget
        self.clock = clock
        self.crypto = crypto  # None: 明文模式 only
        if store is None:  # a private in-memory store: one process, as a test or a single worker
            memory = SharedState(None, clock)
            store = lambda: memory
        self._store = store
        # Keyed by the token, so every worker (and a restarted one) hashes a subscriber alike.
        self._user_key = hmac.new(token.encode("utf-8"), b"policy-assistant wechat user v1", hashlib.sha256).digest()
        self._lock = threading.Lock()
        # A question that overruns its budget keeps its thread until the model returns; a small
        # pool bounds how many can pile up, and a full pool just means the lexical path answers.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wechat-ask")
        self._lexical: dict[int, Assistant] = {}

    def verify(self, signature: str, timestamp: str, nonce: str) -> bool:
        if not (signature and timestamp.isdigit() and nonce) or len(timestamp) > 12 or len(nonce) > 64:
            return False
        if abs(self.clock() - int(timestamp)) > MAX_SKEW_SECONDS:
            return False
        expected = signature_of(self.token, timestamp, nonce)
        return hmac.compare_digest(signature.lower().encode("ascii", "replace"), expected.encode("ascii"))

    def fresh(self, signature: str, timestamp: str, nonce: str, body: bytes) -> bool:
        """False when this signed query string was already used with another body (a replay).

        The same query string with the same body is WeChat re-delivering one request; it passes
        here and is answered once by the MsgId check. Call after `verify`, so only WeChat (or
        whoever holds the token) can add entries."""
        key = f"{timestamp}:{nonce}:{signature.lower()}"
        seen = self._store().claim(NONCES, key, hashlib.sha256(body).hexdigest(), REPLAY_TTL_SECONDS)
        return seen is None or hmac.compare_digest(seen, hashlib.sha256(body).hexdigest())

    def first_delivery(self, key: str) -> tuple[bool, str]:
        """(True, "") for a message not seen before; else (False, the reply it got — "" while the
        first delivery is still being answered)."""
        seen = self._store().claim(DELIVERIES, key, "", REPLAY_TTL_SECONDS)
        return (True, "") if seen is None else (False, seen)

    def answered(self, key: str, content: str) -> None:
        """Keep the reply for WeChat's retries of the same message (on any replica)."""
        try:
            self._store().put(DELIVERIES, key, content, REPLAY_TTL_SECONDS)
        except SharedStateError as exc:
            log.error("微信答复无法存入共享存储(重试时将回复 success): %s", exc)

    def user_key(self, openid: str) -> str:
        digest = hmac.new(self._user_key, openid.encode("utf-8"), hashlib.sha256).digest()[:16]
        return base64.b32encode(digest).decode("ascii").rstrip("=").lower()

    def context(self, user: str) -> tuple[str, ...]:
        try:
            raw = self._store().get(CONTEXTS, user)
        except SharedStateError as exc:  # answered as a fresh question: worse, but an answer
            log.error("微信追问上下文无法读取: %s", exc)
            return ()
        ids = json.loads(raw) if raw else []
        return tuple(str(i) for i in ids) if isinstance(ids, list) else ()

    def remember(self, user: str, answer: Answer) -> None:
        try:
            if answer.kind == "answer" and answer.measures:
                ids = [m.id for m in answer.measures]
                self._store().put(CONTEXTS, user, json.dumps(ids), CONTEXT_TTL_SECONDS)
            else:  # like the chat page: after a decline there is nothing to follow up on
                self._store().delete(CONTEXTS, user)
        except SharedStateError as exc:
            log.error("微信追问上下文无法保存: %s", exc)

    def lexical(self, bot: Assistant) -> Assistant:
        """The same corpus and index with dense retrieval off: answers in milliseconds, no model."""
        with self._lock:
            cached = self._lexical.get(id(bot))
            if cached is None:
                r = bot.retriever
                retriever = Retriever(bot.corpus, bot.lexicon, r.index, None, r.weights, use_dense=False)
                cached = self._lexical[id(bot)] = Assistant(
                    bot.corpus, bot.lexicon, bot.embedder, bot.manifest, retriever
                )
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


def endpoint_for(settings: WebSettings, store: Callable[[], SharedState]) -> WeChatEndpoint:
    """The endpoint the settings describe (call only with a WeChat token configured)."""
    assert settings.wechat_token is not None
    crypto = None
    if settings.wechat_aes_key and settings.wechat_appid:
        crypto = WeChatCrypto.from_encoding_key(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    elif settings.wechat_aes_key or settings.wechat_appid:
        log.error(
            "安全模式需要同时配置 POLICY_ASSISTANT_WECHAT_AES_KEY 和 POLICY_ASSISTANT_WECHAT_APPID;只接受明文模式"
        )
    return WeChatEndpoint(settings.wechat_token, settings.wechat_budget, store=store, crypto=crypto)


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
    q = request.query_params
    body = raw = await request.body()
    mode = q.get("encrypt_type", "raw").lower() or "raw"
    if mode not in ("raw", "aes"):
        return _refuse(400, "不支持的加密方式")
    if mode == "aes" and endpoint.crypto is None:
        log.error("微信消息为安全模式/兼容模式(加密),但未配置 POLICY_ASSISTANT_WECHAT_AES_KEY 与 "
                  "POLICY_ASSISTANT_WECHAT_APPID:请配置,或在公众号后台改为明文模式")  # fmt: skip
        return _refuse(400, "未配置安全模式密钥;请配置 EncodingAESKey 或改用明文模式")
    try:
        if mode == "aes":
            assert endpoint.crypto is not None
            encrypted = encrypted_part(body)
            if not endpoint.crypto.verify(q.get("msg_signature", ""), q["timestamp"], q["nonce"], encrypted):
                log.warning("微信安全模式消息签名(msg_signature)无效,已拒绝")
                return _refuse(403, "签名无效或请求已过期")
            body = endpoint.crypto.decrypt(encrypted)
        message = parse_message(body)
    except (ValueError, WeChatCryptoError) as exc:  # WeChatCryptoError is a ValueError; named for clarity
        log.warning("微信消息无法解密或解析,已拒绝: %s", exc)
        return _refuse(400, "消息格式无效")
    if not message.from_user or not message.to_user:
        return _refuse(400, "消息格式无效")
    # Checked once the body is known to be a well-formed (and, encrypted, authentic) message, so
    # that junk never reaches the store.
    try:
        fresh = await run_in_threadpool(endpoint.fresh, q.get("signature", ""), q["timestamp"], q["nonce"], raw)
    except SharedStateError as exc:
        log.error("微信请求无法核对是否重放(共享存储不可用),已暂拒: %s", exc)
        return _refuse(503, "暂时无法处理,请稍后重试")
    if not fresh:
        log.warning("微信请求的签名参数已用过(重放),已拒绝")
        return _refuse(403, "签名无效或请求已过期")
    return await run_in_threadpool(_deliver, request, bot, endpoint, message, mode == "aes")


def _deliver(request: Request, bot: Assistant, endpoint: WeChatEndpoint, message: Message, encrypt: bool) -> Response:
    now = int(endpoint.clock())
    try:
        first, earlier = endpoint.first_delivery(message.key)
    except SharedStateError as exc:
        log.error("微信消息无法去重(共享存储不可用),已暂拒: %s", exc)
        return _refuse(503, "暂时无法处理,请稍后重试")
    if not first:
        # A retry, on this replica or another: the reply the first delivery got, or, while that is
        # still being answered, "success" (WeChat then waits for the next retry). Never twice.
        return _reply(endpoint, message, earlier, now, encrypt) if earlier else PlainTextResponse(SUCCESS)
    content = _handle(request, bot, endpoint, message)
    if content is None:
        return PlainTextResponse(SUCCESS)
    endpoint.answered(message.key, content)
    return _reply(endpoint, message, content, now, encrypt)


def _reply(endpoint: WeChatEndpoint, message: Message, content: str, now: int, encrypt: bool) -> Response:
    xml = text_reply(message, content, now)
    if encrypt:
        assert endpoint.crypto is not None
        xml = endpoint.crypto.encrypted_reply(xml, now)
    return Response(xml, media_type=XML_TYPE)


def _handle(request: Request, bot: Assistant, endpoint: WeChatEndpoint, message: Message) -> str | None:
    """The reply's text for a first delivery; None for "success" (no reply)."""
    if message.msg_type == "event":
        return welcome_text(bot) if message.event == "subscribe" else None
    question = (
        message.content if message.msg_type == "text" else message.recognition if message.msg_type == "voice" else ""
    )
    if not question:
        return other_text(bot)
    try:
        checked = edge_question(question)
    except PolicyAssistantError as exc:  # empty or too long: say so, in the chat
        return f"{exc}\n政策咨询电话:{bot.phone}"
    user = endpoint.user_key(message.from_user)
    started = time.perf_counter()
    answer = endpoint.ask(bot, checked, endpoint.context(user))
    latency_ms = (time.perf_counter() - started) * 1000
    if answer is None:
        return busy_text(bot)
    endpoint.remember(user, answer)
    request.app.state.recorder.record(
        entry_from_answer(
            answer.to_dict(), latency_ms=latency_ms, channel="wechat", session_id=user, context_used=answer.context_used
        )
    )
    return reply_text(answer)


__all__ = [
    "MAX_REPLY_BYTES",
    "WeChatEndpoint",
    "encrypted_part",
    "endpoint_for",
    "fit_reply",
    "parse_message",
    "reply_text",
    "router",
    "signature_of",
    "text_reply",
]
