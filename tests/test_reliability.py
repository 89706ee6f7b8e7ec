"""Hostile input, personal data, overload and faults: the service keeps answering, stores no raw
personal data, and fails clearly (issue 5)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import assistant.service
from assistant import Assistant, EmbedderError
from assistant.breaker import BreakerConfig, BreakerState, CircuitBreaker
from assistant.embed import CharEmbedder, CheckedEmbedder
from assistant.index import read_manifest
from assistant.qlog import QuestionLog
from assistant.redact import redact
from web.app import create_app
from web.localserver import running
from web.observability import SafeLogFilter, install_log_filters
from web.ratelimit import RateLimiter, client_ip
from web.security import BodyLimit
from web.settings import MAX_BODY_BYTES, Rate, WebSettings, parse_networks, parse_rate

PHONE = "0532-58659939"
M3_QUESTION = "灵活就业人员意外伤害保险补贴"
CJK = re.compile(r"[\u4e00-\u9fff]")
ID_NUMBER = "11010519491231002X"  # checksum-valid resident ID (the standard's own example)
MOBILE = "13912345678"
SESSION = "3f1c9a7e5b2d4f60a1b2c3d4e5f60718"  # what the chat page sends: 32 random hex digits
EMAIL = "zhang.san@example.com"


def luhn_complete(prefix: str) -> str:
    """prefix + the Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return prefix + str((10 - total % 10) % 10)


CARD = luhn_complete("622202123456789012")  # 19 digits
RAW_PII = (ID_NUMBER, MOBILE, CARD, EMAIL)


def settings(tmp_path: Path, **overrides: Any) -> WebSettings:
    fields: dict[str, Any] = {"data_dir": tmp_path / "data", "rate_limit": None}
    fields.update(overrides)
    return WebSettings(**fields)


@pytest.fixture
def make_client(tmp_path: Path, chars_assistant: Assistant) -> Iterator[Any]:
    """make_client(**settings) → a started TestClient over the chars Assistant (closed at the end)."""
    clients: list[TestClient] = []

    def make(
        bot: Any = chars_assistant, client: tuple[str, int] = ("testclient", 50000), **overrides: Any
    ) -> TestClient:
        c = TestClient(create_app(bot, settings(tmp_path, **overrides)), client=client, raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def stored(tmp_path: Path) -> QuestionLog:
    return QuestionLog(tmp_path / "data")


def assert_error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    assert {"error", "message"} <= set(body) and CJK.search(body["message"]), body
    return body


# ---- 413: bodies over 16 KB, refused without reading the rest -----------------------------------


def test_body_over_16kb_is_413(make_client: Any) -> None:
    c = make_client()
    padding = " " * (MAX_BODY_BYTES - len('{"question": "灵活就业"}'.encode()) + 1)
    body = ('{"question": "灵活就业"}' + padding).encode()
    assert len(body) == MAX_BODY_BYTES + 1
    resp = c.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert assert_error(resp, 413)["error"] == "too_large"
    assert resp.headers["connection"] == "close"
    # One byte less is an ordinary request.
    assert c.post("/api/ask", content=body[:-1], headers={"Content-Type": "application/json"}).status_code == 200


class _Source:
    """An endless chunked request body that counts how much of it was read."""

    def __init__(self, chunk: int = 1024) -> None:
        self.chunk = chunk
        self.pulled = 0

    async def receive(self) -> dict[str, Any]:
        self.pulled += 1
        return {"type": "http.request", "body": b"x" * self.chunk, "more_body": True}


def _chunked_scope() -> dict[str, Any]:
    headers = [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")]
    return {"type": "http", "method": "POST", "path": "/api/ask", "headers": headers, "query_string": b""}


def test_chunked_body_over_the_limit_is_refused_after_reading_only_the_limit() -> None:
    async def never(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not see an oversized body")

    source, sent = _Source(), []

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(BodyLimit(never, max_bytes=16 * 1024)(_chunked_scope(), source.receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert source.pulled == 17  # 16 × 1 KB fit; the 17th kilobyte is one too many; nothing more


def test_chunked_body_within_the_limit_reaches_the_app_whole() -> None:
    parts = [b'{"question": ', '"灵活'.encode(), '就业"}'.encode()]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
    seen: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        seen.append(message["body"])
        assert message["more_body"] is False

    async def send(message: Any) -> None:
        pass

    asyncio.run(BodyLimit(app, max_bytes=16 * 1024)(_chunked_scope(), receive, send))
    assert seen == ['{"question": "灵活就业"}'.encode()]


def _raw_exchange(base_url: str, head: bytes, body: bytes) -> bytes:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(head + body)
        return s.recv(4096)  # a server that waited for the rest of the body would time out here


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        (b"Content-Length: 10000000", b'{"question": "' + b"x" * 1000),
        (b"Transfer-Encoding: chunked", b"".join(b"1000\r\n" + b"x" * 4096 + b"\r\n" for _ in range(5))),
    ],
    ids=["content-length", "chunked"],
)
def test_a_real_server_answers_413_before_the_body_ends(
    tmp_path: Path, chars_assistant: Assistant, framing: bytes, body: bytes
) -> None:
    head = b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + framing + b"\r\n\r\n"
    with running(create_app(chars_assistant, settings(tmp_path))) as url:
        reply = _raw_exchange(url, head, body)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


# ---- 422: questions over 500 characters ---------------------------------------------------------


def test_question_over_500_characters_is_422_even_when_redaction_would_shorten_it(make_client: Any) -> None:
    c = make_client()
    assert "500" in assert_error(c.post("/api/ask", json={"question": "补" * 501}), 422)["message"]
    # 483 + 18 = 501 typed characters; redacted it would be 489, but the limit counts what was typed.
    assert_error(c.post("/api/ask", json={"question": "补" * 483 + ID_NUMBER}), 422)
    assert c.post("/api/ask", json={"question": "补" * 482 + ID_NUMBER}).status_code == 200
    assert_error(c.post("/api/search", json={"q": "补" * 501}), 422)


# ---- 429: per-client rate limit -----------------------------------------------------------------


class FakeTime:
    """Stands in for the `time` module inside limits' memory storage and strategies, whose only use
    of it is time.time(); the limiter's own clock (for Retry-After) is pointed at the same instance.
    Starts half a second into a 60-second window (limits' sliding windows are aligned to the epoch)."""

    def __init__(self) -> None:
        self.now = 60_000_000.5

    def time(self) -> float:
        return self.now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    import limits.storage.memory
    import limits.strategies

    fake = FakeTime()
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    monkeypatch.setattr(limits.strategies, "time", fake)
    return fake


def test_rate_limit_429_with_retry_after(make_client: Any, fake_time: FakeTime) -> None:
    c = make_client(rate_limit=Rate(3, 60))
    c.app.state.limiter.clock = fake_time
    for _ in range(3):
        assert c.post("/api/ask", json={"question": "灵活就业"}).status_code == 200
    resp = c.post("/api/ask", json={"question": "灵活就业"})
    body = assert_error(resp, 429)
    assert body["error"] == "too_many_requests" and "秒后再试" in body["message"]
    assert resp.headers["retry-after"] == "60"  # the rest of the window
    assert resp.headers["cache-control"] == "no-store" and resp.headers["x-request-id"]
    # Pages, browsing and health checks are not limited.
    assert c.get("/healthz").status_code == 200 and c.get("/api/measures").status_code == 200
    fake_time.now += 30
    assert assert_error(c.post("/api/ask", json={"question": "灵活就业"}), 429)["error"] == "too_many_requests"
    # A moving window: once the burst is 60 s old, three more fit — and no fourth.
    fake_time.now += 30.01
    statuses = [c.post("/api/ask", json={"question": "灵活就业"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_rate_limit_is_per_client(make_client: Any) -> None:
    first = make_client(rate_limit=Rate(1, 60), client=("198.51.100.1", 1))
    assert first.post("/api/ask", json={"question": "灵活就业"}).status_code == 200
    assert first.post("/api/ask", json={"question": "灵活就业"}).status_code == 429
    other = TestClient(first.app, client=("198.51.100.2", 1))  # same app, same buckets, another peer
    assert other.post("/api/ask", json={"question": "灵活就业"}).status_code == 200


def test_rate_limiter_arithmetic(fake_time: FakeTime) -> None:
    limiter = RateLimiter(Rate(30, 60))
    limiter.clock = fake_time
    assert [limiter.hit("a") for _ in range(30)] == [0.0] * 30  # a burst of 30
    assert limiter.hit("a") == pytest.approx(60.0)  # then nothing until the burst is 60 s old
    assert limiter.hit("b") == 0.0
    fake_time.now += 20
    assert limiter.hit("a") == pytest.approx(40.0)  # refused requests do not count
    fake_time.now += 40.01  # the burst has left the window: a whole new one fits, and no more
    assert [limiter.hit("a") for _ in range(30)] == [0.0] * 30
    assert limiter.hit("a") > 0


@pytest.mark.parametrize("into_window", [0.5, 59.9])
def test_a_client_at_its_limit_stays_limited_across_a_window_boundary(fake_time: FakeTime, into_window: float) -> None:
    """However the clock falls against limits' epoch-aligned windows: with 1 question a minute, the second a
    fraction of a second after the first is refused (the sliding-window counter let it through whenever a new
    minute began between the two, which made a test of this fail now and then under load)."""
    fake_time.now = 60_000_000 + into_window
    limiter = RateLimiter(Rate(1, 60))
    limiter.clock = fake_time
    assert limiter.hit("a") == 0.0
    fake_time.now += 0.2
    assert limiter.hit("a") == pytest.approx(59.8)
    fake_time.now += 59.81  # just after the first has left the window
    assert limiter.hit("a") == 0.0


def test_two_limiters_on_one_storage_count_separately() -> None:
    # The app's question and vote limiters may share a storage (e.g. one redis://): namespaces.
    ask, vote = RateLimiter(Rate(1, 60), namespace="ask"), RateLimiter(Rate(1, 60), namespace="vote")
    vote.storage = ask.storage
    vote.limiter = type(ask.limiter)(ask.storage)
    assert ask.hit("a") == 0.0 and vote.hit("a") == 0.0
    assert ask.hit("a") > 0 and vote.hit("a") > 0


def test_rate_limiter_forgets_clients_whose_window_has_passed(fake_time: FakeTime) -> None:
    limiter = RateLimiter(Rate(5, 60))
    for i in range(1000):
        limiter.hit(f"10.0.{i // 256}.{i % 256}")
    fake_time.now += 121
    limiter.hit("10.9.9.9")  # schedules the storage's sweep of expired counters
    limiter.storage.timer.join(5)  # type: ignore[attr-defined]
    assert len(limiter.storage.storage) <= 2  # type: ignore[attr-defined]  # the new client's counter only


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30/min", Rate(30, 60)),
        ("5/s", Rate(5, 1)),
        ("100/hour", Rate(100, 3600)),
        ("10/30s", Rate(10, 30)),
        (" 2 / minute ", Rate(2, 60)),
        ("0", None),
        ("off", None),
    ],
)
def test_parse_rate(text: str, expected: Rate | None) -> None:
    assert parse_rate(text) == expected


def test_bad_settings_fall_back_to_the_safe_default(caplog: pytest.LogCaptureFixture) -> None:
    env = {"POLICY_ASSISTANT_RATE_LIMIT": "lots", "POLICY_ASSISTANT_TRUSTED_PROXIES": "10.0.0.1, not-an-ip"}
    with caplog.at_level(logging.ERROR):
        s = WebSettings.from_env(env)
    assert s.rate_limit == Rate(30, 60) and s.trusted_proxies == ()
    assert "lots" in caplog.text and "not-an-ip" in caplog.text
    assert WebSettings.from_env({"POLICY_ASSISTANT_RATE_LIMIT": "0"}).rate_limit is None
    assert WebSettings.from_env({}).rate_limit == Rate(30, 60)


# ---- client identity: X-Forwarded-For only from a trusted proxy -----------------------------------


def _scope(peer: str, xff: str | None = None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", xff.encode())] if xff is not None else []
    return {"type": "http", "client": (peer, 1234), "headers": headers}


PROXIES = parse_networks("10.0.0.0/8, 2001:db8::1")


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # not a proxy of ours: the header is ignored
        ("10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.5", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.5", "1.1.1.1, 198.51.100.7", "198.51.100.7"),  # the client cannot choose its address
        ("10.0.0.5", "198.51.100.7, 10.0.0.9", "198.51.100.7"),  # a chain of our proxies
        ("10.0.0.5", "198.51.100.7:5555", "198.51.100.7"),
        ("10.0.0.5", "garbage", "10.0.0.5"),
        ("10.0.0.5", "1.1.1.1, garbage, 10.0.0.9", "10.0.0.9"),
        ("2001:db8::1", "[2001:db8::42]:443", "2001:db8::42"),
        ("::ffff:203.0.113.9", "1.2.3.4", "203.0.113.9"),
    ],
)
def test_client_ip(peer: str, xff: str | None, expected: str) -> None:
    assert client_ip(_scope(peer, xff), PROXIES) == expected


def test_x_forwarded_for_is_honoured_only_from_a_trusted_proxy(make_client: Any) -> None:
    proxy = make_client(rate_limit=Rate(1, 60), trusted_proxies=PROXIES, client=("10.0.0.5", 1))
    # Behind our proxy, each citizen has their own bucket.
    for citizen in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        resp = proxy.post("/api/ask", json={"question": "灵活就业"}, headers={"X-Forwarded-For": citizen})
        assert resp.status_code == 200
    resp = proxy.post("/api/ask", json={"question": "灵活就业"}, headers={"X-Forwarded-For": "198.51.100.1"})
    assert resp.status_code == 429
    # A client talking to us directly cannot dodge the limit by inventing addresses.
    direct = TestClient(proxy.app, client=("203.0.113.9", 1))
    statuses = [
        direct.post("/api/ask", json={"question": "灵活就业"}, headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code
        for i in range(3)
    ]
    assert statuses == [200, 429, 429]


# ---- errors: request ids, no tracebacks, no forged log lines -------------------------------------


class _Exploding:
    """An Assistant whose every call fails with an unexpected exception that quotes its input."""

    phone = PHONE

    def ask(self, question: str, top_k: int = 3, **_: Any) -> Any:
        raise RuntimeError(f"secret internals while answering {question}")

    def answer_for(self, chunk_id: str) -> Any:
        raise RuntimeError(f"secret internals for {chunk_id}")


def test_a_crash_is_a_generic_500_with_a_request_id_and_the_traceback_stays_in_the_log(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    c = make_client(bot=_Exploding())
    with caplog.at_level(logging.ERROR, logger="policy_assistant.web"):
        resp = c.post("/api/ask", json={"question": "灵活就业"})
    body = assert_error(resp, 500)
    rid = resp.headers["x-request-id"]
    assert body["request_id"] == rid and rid in body["message"]
    for leak in ("Traceback", "RuntimeError", "secret", "File ", ".py"):
        assert leak not in resp.text
    assert resp.headers["content-security-policy"].startswith("default-src 'self'")
    assert f"[请求 {rid}]" in caplog.text
    assert "Traceback" in caplog.text and "RuntimeError: secret internals" in caplog.text


def test_every_response_has_its_own_request_id(make_client: Any) -> None:
    c = make_client()
    ids = {c.get(path).headers["x-request-id"] for path in ("/", "/healthz", "/nope", "/static/chat.js", "/")}
    assert len(ids) == 5 and all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    # A client cannot choose its id (only a trusted proxy may pass one on).
    assert c.get("/healthz", headers={"X-Request-Id": "chosen-by-client"}).headers["x-request-id"] != "chosen-by-client"


def _log_lines_are_genuine(text: str) -> None:
    """Every line is a record's first line (pytest's format starts with the level) or an indented
    traceback line; nothing an attacker sent can begin a line."""
    for line in text.splitlines():
        assert re.match(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) ", line) or line.startswith("  | "), line


def test_log_forging_attempts_are_neutralised(make_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    c = make_client(bot=_Exploding())
    forged = "m1\r\nCRITICAL policy_assistant: 管理员密码已重置\x1b[31m"
    with caplog.at_level(logging.INFO):
        c.get("/api/measures/m1%0D%0ACRITICAL%20policy_assistant:%20%E7%AE%A1%E7%90%86%E5%91%98%1B%5B31m")
        c.post("/api/ask", json={"question": forged})
    assert "secret internals" in caplog.text  # the failures were logged …
    _log_lines_are_genuine(caplog.text)  # … without a forged line
    assert "\\r\\nCRITICAL" in caplog.text and "\x1b" not in caplog.text


def test_access_log_fields_are_escaped_and_keep_uvicorns_format() -> None:
    from uvicorn.logging import AccessFormatter

    install_log_filters()
    logger = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, SafeLogFilter) for f in logger.filters)
    record = logger.makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/x\r\n127.0.0.1:1 - \"GET /admin HTTP/1.1\" 200 {ID_NUMBER}", "1.1", 404),
        None,
    )  # fmt: skip
    assert logger.filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert "\n" not in line and "\r" not in line and ID_NUMBER not in line
    assert '" 404' in line and "\\r\\n" in line


@pytest.mark.parametrize(
    "target",
    [
        ("/wechat?signature=5f2b1c0d&timestamp=1733212345&nonce=918273645&openid=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
         "&encrypt_type=aes&msg_signature=9a8b7c6d&echostr=4417183457"),
        "/admin?token=s3cret-admin-token-for-tests-0001&days=7",
        "/wechat?%73ignature=5f2b1c0d&NONCE=918273645&x=1",  # percent-encoded and upper-case names
    ],
)
def test_the_access_log_masks_signatures_nonces_and_tokens(target: str) -> None:
    from uvicorn.logging import AccessFormatter

    install_log_filters()
    logger = logging.getLogger("uvicorn.access")
    record = logger.makeRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", target, "1.1", 200), None)  # fmt: skip
    assert logger.filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    for secret in ("5f2b1c0d", "918273645", "oUpF8uMuAJO", "9a8b7c6d", "4417183457", "s3cret-admin"):
        assert secret not in line, line
    assert re.search(r"(signature|token)=\*\*\*", line.lower()), line  # the names stay, for debugging
    assert "timestamp=1733212345" in line or "days=7" in line or "x=1" in line  # the rest is kept


# ---- personal data: never stored, never echoed ---------------------------------------------------


def test_personal_data_is_redacted_in_the_answer_and_in_the_stored_log(
    make_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = make_client()
    question = (
        f"我身份证{ID_NUMBER},手机 {MOBILE[:3]}-{MOBILE[3:7]}-{MOBILE[7:]},卡号{CARD},邮箱{EMAIL},灵活就业有补贴吗"
    )
    with caplog.at_level(logging.DEBUG):
        resp = c.post("/api/ask", json={"question": question}, headers={"X-Channel": "web", "X-Session-Id": SESSION})
    assert resp.status_code == 200
    answer = resp.json()
    assert answer["question"] == redact(question).text
    for placeholder in ("[身份证号]", "[手机号]", "[银行卡号]", "[邮箱]"):
        assert placeholder in answer["question"]
    digits = re.sub(r"\D", "", resp.text)
    for raw in RAW_PII:
        assert raw not in resp.text and raw not in caplog.text
    for number in (ID_NUMBER[:17], MOBILE, CARD):
        assert number not in digits  # not even with the separators taken out
    with stored(tmp_path) as qlog:
        (entry,) = qlog.recent()
    assert entry.question == answer["question"]
    assert (entry.channel, entry.kind) == ("web", answer["kind"])
    assert entry.session_id == stored(tmp_path).session_hash(SESSION) != SESSION  # a keyed hash, never as sent
    assert entry.chunk_ids == tuple(m["id"] for m in answer["measures"])
    assert entry.scores == tuple(m["score"] for m in answer["measures"])
    raw_db = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir())
    for raw in RAW_PII:
        assert raw.encode() not in raw_db


def test_the_lookup_shows_a_search_with_personal_data_redacted(make_client: Any) -> None:
    c = make_client()
    resp = c.post("/lookup", data={"q": f"{ID_NUMBER} 退役军人创业"}, headers={"Accept": "text/html"})
    assert resp.status_code == 200
    assert ID_NUMBER not in resp.text and "[身份证号] 退役军人创业" in resp.text


def test_each_question_is_logged_with_its_channel_and_session(make_client: Any, tmp_path: Path) -> None:
    c = make_client()
    c.post("/api/ask", json={"question": M3_QUESTION})
    c.post("/api/ask", json={"question": "怎么办理护照"}, headers={"X-Channel": "web", "X-Session-Id": SESSION})
    c.post("/api/ask", json={"question": "你好"}, headers={"X-Session-Id": "bad\r\nid"})
    c.post("/api/ask", json={"question": ""})  # refused: not an answered question
    with stored(tmp_path) as qlog:
        newest_first = qlog.recent()
    assert [(e.channel, e.session_id, e.kind, e.matched) for e in newest_first] == [
        ("api", None, "greeting", False),
        ("web", stored(tmp_path).session_hash(SESSION), "no_match", False),
        ("api", None, "answer", True),
    ]
    m3 = newest_first[-1]
    assert m3.question == M3_QUESTION and m3.chunk_ids[0] == "m3" and m3.latency_ms > 0


def test_a_broken_question_log_never_costs_an_answer(
    make_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "data").write_text("not a directory")  # the data dir cannot be created
    c = make_client()
    with caplog.at_level(logging.ERROR, logger="policy_assistant.web"):
        for _ in range(3):
            resp = c.post("/api/ask", json={"question": M3_QUESTION})
            assert resp.status_code == 200 and resp.json()["measures"][0]["id"] == "m3"
    failures = [r for r in caplog.records if "问题日志写入失败" in r.getMessage()]
    assert len(failures) == 1  # logged once, not once per question


def test_concurrent_questions_through_the_api_lose_no_rows(tmp_path: Path, chars_assistant: Assistant) -> None:
    import httpx

    questions = [M3_QUESTION, "退役军人创业有什么扶持", "怎么办理护照", "你好", "高校毕业生就业补贴"]
    n = 240
    local = threading.local()

    def one(i: int) -> int:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=url, timeout=30)
            clients.append(local.http)
        headers = {"X-Session-Id": f"sess-{i:04d}-abcdefgh", "X-Channel": "web" if i % 2 else "api"}
        return int(local.http.post("/api/ask", json={"question": questions[i % 5]}, headers=headers).status_code)

    clients: list[httpx.Client] = []
    app = create_app(chars_assistant, settings(tmp_path))
    with running(app) as url, ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(one, range(n)))
    for http in clients:
        http.close()
    assert statuses == [200] * n
    with stored(tmp_path) as qlog:
        entries = qlog.recent(limit=n + 10)
    assert len(entries) == n
    with stored(tmp_path) as qlog:
        assert {e.session_id for e in entries} == {qlog.session_hash(f"sess-{i:04d}-abcdefgh") for i in range(n)}
    assert sum(e.channel == "web" for e in entries) == n // 2


# ---- headers on every kind of response -----------------------------------------------------------


def _unavailable_app(tmp_path: Path) -> FastAPI:
    app = create_app(None, settings(tmp_path))
    app.state.startup_error = "政策检索服务无法启动:测试"
    return app


@pytest.mark.parametrize(
    ("kind", "method", "path", "kwargs", "status"),
    [
        ("ok", "GET", "/", {}, 200),
        ("ok", "GET", "/static/chat.css", {}, 200),
        ("ok", "GET", "/static/nope.css", {}, 404),
        ("ok", "GET", "/healthz", {}, 200),
        ("ok", "GET", "/api/measures", {}, 200),
        ("ok", "POST", "/lookup", {"data": {"q": "就业"}}, 200),
        ("ok", "GET", "/nope", {"headers": {"Accept": "text/html"}}, 404),
        ("ok", "GET", "/api/nope", {}, 404),
        ("ok", "PUT", "/api/ask", {}, 405),
        ("ok", "POST", "/api/ask", {"content": b"{" + b" " * MAX_BODY_BYTES + b"}"}, 413),
        ("ok", "POST", "/api/ask", {"content": b"x", "headers": {"Content-Type": "text/plain"}}, 415),
        ("ok", "POST", "/api/ask", {"json": {"question": "补" * 501}}, 422),
        ("limited", "POST", "/api/ask", {"json": {"question": "就业"}}, 429),
        ("crash", "POST", "/api/ask", {"json": {"question": "就业"}}, 500),
        ("down", "POST", "/api/ask", {"json": {"question": "就业"}}, 503),
        ("down", "GET", "/", {"headers": {"Accept": "text/html"}}, 503),
        ("down", "GET", "/healthz", {}, 503),
    ],
)
def test_security_headers_on_every_kind_of_response(
    tmp_path: Path, chars_assistant: Assistant, kind: str, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    app = {
        "ok": lambda: create_app(chars_assistant, settings(tmp_path)),
        "limited": lambda: create_app(chars_assistant, settings(tmp_path, rate_limit=Rate(1, 3600))),
        "crash": lambda: create_app(_Exploding(), settings(tmp_path)),  # type: ignore[arg-type]
        "down": lambda: _unavailable_app(tmp_path),
    }[kind]()
    c = TestClient(app, raise_server_exceptions=False)
    if kind != "down":  # "down" skips the lifespan, which would load the repo's index
        c.__enter__()
    if kind == "limited":
        c.post("/api/ask", json={"question": "就业"})
    resp = c.request(method, path, **kwargs)
    if kind != "down":
        c.__exit__(None, None, None)
    assert resp.status_code == status
    h = resp.headers
    csp = h["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'",
                      "frame-ancestors 'none'"):  # fmt: skip
        assert directive in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert re.fullmatch(r"[0-9a-f]{16}", h["x-request-id"])
    if path.startswith("/api/") or path == "/healthz" or method != "GET" or status >= 400:
        assert h["cache-control"] == "no-store"


# ---- degradation: embedder failures, corrupt and unrebuildable indexes ---------------------------


class QueriesFail:
    """Builds an index like CharEmbedder, then fails on every question (a crashed model process)."""

    id = "chars-queries-fail"

    def __init__(self) -> None:
        self._inner = CharEmbedder()
        self.calls = 0

    @property
    def dim(self) -> int:
        return self._inner.dim

    def passages(self, texts: Any) -> np.ndarray:
        return self._inner.passages(texts)

    def queries(self, texts: Any) -> np.ndarray:
        self.calls += 1
        raise EmbedderError("向量模型进程已退出(测试)")


def test_degraded_mode_keeps_answering_from_lexical_retrieval(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    embedder = QueriesFail()
    with caplog.at_level(logging.ERROR, logger="policy_assistant"):
        # The contract is checked at load: the failure is known before the first question.
        bot = Assistant.load(index_dir=tmp_path / "index", embedder=embedder)
        with TestClient(create_app(bot, settings(tmp_path))) as c:
            first = c.get("/healthz").json()
            answers = [c.post("/api/ask", json={"question": M3_QUESTION}) for _ in range(3)]
            health = c.get("/healthz").json()
    assert first["status"] == health["status"] == "degraded" and "向量模型进程已退出" in health["reason"]
    assert all(a.status_code == 200 for a in answers)
    assert answers[-1].json()["matched"] is True and answers[-1].json()["measures"][0]["id"] == "m3"
    assert embedder.calls == 1  # dense retrieval switched off after the first failure …
    assert sum("dense retrieval disabled" in r.getMessage() for r in caplog.records) == 1  # … and logged once


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("index-master")
    Assistant.load(index_dir=path, embedder="chars")
    return path


@pytest.mark.parametrize("damage", ["truncate vectors.npy", "flip a byte of dense.faiss", "delete rows.json"])
def test_a_corrupt_index_is_detected_and_rebuilt(
    built_index: Path, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    if damage.startswith("truncate"):
        (index / "vectors.npy").write_bytes((index / "vectors.npy").read_bytes()[:100])
    elif damage.startswith("flip"):
        data = bytearray((index / "dense.faiss").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (index / "dense.faiss").write_bytes(bytes(data))
    else:
        (index / "rows.json").unlink()
    with caplog.at_level(logging.INFO, logger="policy_assistant"):
        bot = Assistant.load(index_dir=index, embedder="chars")
    assert "索引文件损坏或缺失" in caplog.text  # the manifest checksum caught it
    assert bot.ask(M3_QUESTION).measures[0].id == "m3"
    manifest = read_manifest(index)
    assert manifest.files == json.loads((built_index / "manifest.json").read_text())["files"]


def test_an_index_that_cannot_be_rebuilt_is_a_clear_503_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_dir = tmp_path / "index"
    not_a_dir.write_text("this should have been a directory")
    monkeypatch.setenv("POLICY_ASSISTANT_INDEX", str(not_a_dir))
    monkeypatch.setenv("POLICY_ASSISTANT_EMBEDDER", "chars")
    app = create_app(settings=settings(tmp_path))
    with caplog.at_level(logging.ERROR), TestClient(app) as c:  # start-up itself must not raise
        health = c.get("/healthz")
        answer = c.post("/api/ask", json={"question": M3_QUESTION})
        page = c.get("/", headers={"Accept": "text/html"})
        again = c.get("/healthz")
    assert health.status_code == 503 and again.status_code == 503
    body = health.json()
    assert body["status"] == "error" and "无法启动" in body["reason"] and str(not_a_dir) in body["reason"]
    assert assert_error(answer, 503)["error"] == "unavailable"
    assert page.status_code == 503 and "服务暂时不可用" in page.text
    assert caplog.text.count("政策检索服务无法启动") == 1  # said once, at start-up


def test_a_failing_rebuild_is_reported_not_retried_in_a_loop(
    built_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    (index / "vectors.npy").write_bytes(b"garbage")
    calls = []

    def read_only(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise PermissionError(13, "Read-only file system", str(index))

    monkeypatch.setattr(assistant.service, "build_index", read_only)
    monkeypatch.setenv("POLICY_ASSISTANT_INDEX", str(index))
    monkeypatch.setenv("POLICY_ASSISTANT_EMBEDDER", "chars")
    with TestClient(create_app(settings=settings(tmp_path))) as c:
        statuses = [c.get("/healthz").status_code for _ in range(3)]
        reason = c.get("/healthz").json()["reason"]
    assert statuses == [503] * 3 and calls == [1]
    assert "索引无法重建" in reason and "Read-only file system" in reason


# ---- issue 22 §5: a worker that recovers (circuit breaker with a half-open state) ----------------


class Clock:
    """A monotonic clock the test moves by hand (the breaker's cool-down, the calls' durations)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class SlowThenFast:
    """CharEmbedder whose question calls take `delay` seconds of the injected clock: CPU contention
    that comes and goes, without a real sleep."""

    id = "chars-slow-then-fast"

    def __init__(self, clock: Clock) -> None:
        self.inner = CharEmbedder()
        self.clock = clock
        self.delay = 0.0
        self.calls = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def passages(self, texts: Any) -> np.ndarray:
        return self.inner.passages(texts)

    def queries(self, texts: Any) -> np.ndarray:
        self.calls += 1
        self.clock.now += self.delay
        return self.inner.queries(texts)


def _transitions(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = (re.search(r"circuit (\w+) → (\w+)", r.getMessage()) for r in caplog.records)
    return [f"{m[1]}→{m[2]}" for m in found if m]


def distinct_questions() -> Iterator[str]:
    """Distinct wordings of one question (m3), so neither the answer cache nor the query-vector
    cache hides the model."""
    for prefix in ("", "请问", "我想问", "想了解", "咨询一下", "问一下"):
        for q in ("灵活就业人员意外伤害保险补贴", "外卖骑手有没有意外伤害保险补贴", "快递员意外伤害保险补贴",
                  "网约车司机意外伤害保险补贴", "新就业形态劳动者意外伤害保险补贴"):  # fmt: skip
            yield prefix + q


def test_a_slow_embedder_opens_the_breaker_and_dense_answers_return_after_the_cool_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    model = SlowThenFast(clock)
    embedder = CheckedEmbedder(model, dim=512, timeout=2.0, cool_down=30.0, clock=clock)
    bot = Assistant.load(index_dir=tmp_path / "index", embedder=embedder)
    questions = distinct_questions()

    def ask(c: TestClient) -> dict[str, Any]:
        resp = c.post("/api/ask", json={"question": next(questions)})
        assert resp.status_code == 200 and resp.json()["measures"][0]["id"] == "m3", resp.text
        return dict(resp.json())

    def dense_used() -> bool:
        return max(h.dense for h in bot.retrieve(next(questions)).hits) > 0

    with caplog.at_level(logging.INFO, logger="policy_assistant"), TestClient(create_app(bot, settings(tmp_path))) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        model.delay = 3.0  # one call over the 2-second limit: it still answers, but opens the breaker
        ask(c)
        health = c.get("/healthz").json()
        assert health["status"] == "degraded" and "超时" in health["reason"], health
        calls = model.calls
        clock.now += 29  # within the cool-down: lexical answers, at once, the model is left alone
        ask(c)
        assert not dense_used() and model.calls == calls
        model.delay = 0.01  # the contention is over
        clock.now += 2  # cool-down passed: half-open, trial calls one at a time
        assert dense_used()
        assert c.get("/healthz").json()["status"] == "degraded"  # one fast call is not yet enough
        ask(c)
        ask(c)  # the third fast call in a row closes it
        health = c.get("/healthz").json()
        assert health["status"] == "ok" and health["reason"] is None, health
        assert dense_used() and model.calls == calls + 4
    assert _transitions(caplog) == ["closed→open", "open→half_open", "half_open→closed"]


def test_a_failed_trial_reopens_the_breaker_for_a_longer_cool_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    model = SlowThenFast(clock)
    embedder = CheckedEmbedder(model, dim=512, timeout=2.0, cool_down=30.0, clock=clock)
    bot = Assistant.load(index_dir=tmp_path / "index", embedder=embedder)
    questions = distinct_questions()
    model.delay = 5.0
    with caplog.at_level(logging.INFO, logger="policy_assistant"):
        bot.retrieve(next(questions))  # opens
        clock.now += 31
        bot.retrieve(next(questions))  # the trial is slow too: open again, now for 60 s
        calls = model.calls
        clock.now += 45
        bot.retrieve(next(questions))
        assert model.calls == calls  # still cooling down (60 s, not 30)
        model.delay = 0.0
        clock.now += 16
        for _ in range(3):
            bot.retrieve(next(questions))
    assert bot.status()["status"] == "ok"
    assert _transitions(caplog) == [
        "closed→open", "open→half_open", "half_open→open", "open→half_open", "half_open→closed"
    ]  # fmt: skip


def test_the_half_open_breaker_lets_one_trial_through_at_a_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker("test", BreakerConfig(slow_call=1.0, cool_down=10.0, close_after=2), clock)
    breaker.failed("测试故障")
    assert not breaker.allow()
    clock.now += 10
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # a concurrent caller answers lexically meanwhile
    breaker.succeeded(0.1)
    assert breaker.state is BreakerState.HALF_OPEN and breaker.allow()
    breaker.succeeded(0.1)
    assert breaker.state is BreakerState.CLOSED and breaker.reason is None
    assert breaker.allow() and breaker.allow()  # closed: everyone
    with pytest.raises(ValueError):
        BreakerConfig(slow_call=0)
