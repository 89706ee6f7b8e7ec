"""WeChat Official Account endpoint /wechat (issue 12): signatures, replies, follow-ups, hostile XML, time budget."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.embed import CharEmbedder
from assistant.qlog import QuestionLog
from web.app import create_app
from web.settings import WebSettings
from web.wechat import MAX_REPLY_BYTES, fit_reply, reply_text

TOKEN = "wxtoken123"
PHONE = "0532-58659939"
ACCOUNT = "gh_0123456789ab"
USER = "oUser_abcdefghijklmnopqrstuv"
M3_QUESTION = "灵活就业人员意外伤害保险补贴"


_nonces = iter(range(10**9, 2 * 10**9))


def signed(timestamp: int | None = None, nonce: str | None = None, token: str = TOKEN) -> dict[str, str]:
    """A fresh signed query string, as WeChat sends one per request (a new nonce each time)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = str(next(_nonces)) if nonce is None else nonce
    signature = hashlib.sha1("".join(sorted([token, ts, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": ts, "nonce": nonce}


def text_message(content: str, msg_id: int, user: str = USER) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def event_message(event: str, user: str = USER) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event></xml>"
    ).encode()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(chars_assistant: Assistant, data_dir: Path) -> Iterator[TestClient]:
    settings = WebSettings(data_dir=data_dir, rate_limit=None, wechat_token=TOKEN)
    with TestClient(create_app(chars_assistant, settings)) as c:
        yield c


_ids = iter(range(10**15, 10**16))


def post(client: TestClient, body: bytes, params: dict[str, str] | None = None) -> Any:
    return client.post("/wechat", params=signed() if params is None else params, content=body, headers={"Content-Type": "text/xml"})


def reply_of(resp: Any) -> dict[str, str]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(resp.content)  # well-formed, or this raises
    assert root.tag == "xml"
    return {child.tag: child.text or "" for child in root}


def ask(client: TestClient, question: str, user: str = USER) -> str:
    reply = reply_of(post(client, text_message(question, next(_ids), user)))
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == (user, ACCOUNT, "text")
    assert len(reply["Content"].encode()) <= MAX_REPLY_BYTES
    return reply["Content"]


# ---- verification --------------------------------------------------------------------------------


def test_without_a_token_the_endpoint_does_not_exist(chars_assistant: Assistant, tmp_path: Path) -> None:
    with TestClient(create_app(chars_assistant, WebSettings(data_dir=tmp_path, rate_limit=None))) as c:
        assert c.get("/wechat", params={**signed(), "echostr": "x"}).status_code == 404
        assert c.post("/wechat", params=signed(), content=text_message("你好", 1)).status_code == 404


def test_a_valid_signature_echoes_echostr(client: TestClient) -> None:
    resp = client.get("/wechat", params={**signed(), "echostr": "1234567890abc"})
    assert resp.status_code == 200 and resp.text == "1234567890abc"
    assert resp.headers["cache-control"] == "no-store"


# Built when the test runs, not when it is collected: a timestamp made at collection time may be
# minutes old by then, and "from the future" would have become "now".
@pytest.mark.parametrize(
    "make",
    [
        lambda: {**signed(), "signature": "0" * 40},  # wrong signature
        lambda: signed(token="another-token"),  # signed with another account's token
        lambda: signed(timestamp=int(time.time()) - 301),  # stale
        lambda: signed(timestamp=int(time.time()) + 400),  # from the future
        lambda: {k: v for k, v in signed().items() if k != "signature"},
        lambda: {},
    ],
    ids=["wrong", "other-token", "stale", "future", "no-signature", "nothing"],
)
def test_invalid_or_stale_signatures_are_refused(client: TestClient, make: Callable[[], dict[str, str]]) -> None:
    params = make()
    resp = client.get("/wechat", params={**params, "echostr": "hello"})
    assert resp.status_code == 403 and "hello" not in resp.text
    assert post(client, text_message(M3_QUESTION, next(_ids)), params).status_code == 403


# ---- answers -------------------------------------------------------------------------------------


def test_a_text_message_gets_the_measure_its_units_and_the_phone(client: TestClient, data_dir: Path) -> None:
    content = ask(client, M3_QUESTION)
    assert content.startswith("▶ 第3条:")
    assert "每人每年不高于100元标准给予意外伤害保险补贴" in content
    assert "第3条 实施灵活就业促进工程" in content
    assert "责任单位:区人力资源社会保障局、各街道办事处" in content
    assert PHONE in content.splitlines()[-1]  # the phone line closes the reply
    with QuestionLog(data_dir) as log:
        (entry,) = log.recent()
    assert entry.channel == "wechat" and entry.chunk_ids[0] == "m3"
    assert entry.session_id and USER not in entry.session_id  # a keyed hash of the OpenID, twice over


@pytest.mark.usefixtures("district_noon")  # a day after m7's deadline, 2025年底
def test_a_follow_up_from_the_same_user_uses_the_previous_answer(client: TestClient, data_dir: Path) -> None:
    first = ask(client, "重点群体就业创业税收优惠政策")
    assert "第7条" in first
    assert "税收优惠政策至2025年12月31日”所述期限已过" in first  # the validity warning travels too, on its sentence
    follow = ask(client, "那找哪个部门?")
    assert "城阳区税务局" in follow.split("相关条目")[0]  # in the key lines, not just the unit list
    # Another subscriber asking the same has no previous answer: asked which measure is meant.
    stranger = ask(client, "那找哪个部门?", user="oOther_zyxwvutsrqponmlkjihgf")
    assert "哪一项" in stranger and "城阳区税务局" not in stranger
    with QuestionLog(data_dir) as log:
        used = [e.context_used for e in reversed(log.recent())]
    assert used == [False, True, False]


def test_a_retried_message_is_answered_once_with_the_same_reply(client: TestClient, data_dir: Path) -> None:
    body = text_message(M3_QUESTION, 424242)
    first = reply_of(post(client, body))["Content"]
    assert "第3条" in first
    # WeChat's retry of a slow reply: the same message, with the same or a new signed query string.
    params = signed()
    assert reply_of(post(client, body, params))["Content"] == first
    assert reply_of(post(client, body, params))["Content"] == first
    with QuestionLog(data_dir) as log:
        assert log.count() == 1  # answered (and logged) once


def test_subscribers_are_welcomed_with_example_questions(client: TestClient, chars_assistant: Assistant) -> None:
    reply = reply_of(post(client, event_message("subscribe")))
    assert "欢迎关注" in reply["Content"] and PHONE in reply["Content"]
    assert chars_assistant.suggestions()[0] in reply["Content"]
    unsubscribe = post(client, event_message("unsubscribe", user="oGone_abcdefghijklmnopqrst"))
    assert unsubscribe.text == "success"


def test_other_message_types_get_a_polite_text(client: TestClient) -> None:
    body = text_message("x", next(_ids)).replace(b"<![CDATA[text]]>", b"<![CDATA[image]]>")
    reply = reply_of(post(client, body))
    assert "只能回答文字" in reply["Content"] and PHONE in reply["Content"]


def test_markup_in_a_question_cannot_break_the_reply(client: TestClient) -> None:
    content = ask(client, "补贴]]></Content><MsgType>news</MsgType><Content><![CDATA[")
    assert PHONE in content


# ---- hostile XML ---------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xml [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><ToUserName>gh_0123456789ab</ToUserName><FromUserName>oUser_abcdefghijklmnopqrstuv</FromUserName>
<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh_0123456789ab</ToUserName><FromUserName>oUser_abcdefghijklmnopqrstuv</FromUserName>
<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<xml><MsgType>text</MsgType></xml>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY], ids=["bomb", "xxe", "param"])
def test_entities_and_dtds_are_refused_without_expansion(client: TestClient, data_dir: Path, body: bytes) -> None:
    started = time.perf_counter()
    resp = post(client, body)
    assert resp.status_code == 400
    # Refused at the DOCTYPE, nothing expanded: a billion laughs takes minutes and gigabytes;
    # seconds, loose enough for a busy machine.
    assert time.perf_counter() - started < 5
    assert "lol" not in resp.text and "root:" not in resp.text
    with QuestionLog(data_dir) as log:
        assert log.count() == 0


@pytest.mark.parametrize("body", [b"", b"not xml", b"<xml><unclosed></xml>", b"<other/>"])
def test_malformed_bodies_are_400(client: TestClient, body: bytes) -> None:
    assert post(client, body).status_code == 400


def test_encrypted_messages_without_a_configured_key_are_refused_with_a_hint(client: TestClient) -> None:
    resp = post(client, text_message("你好", next(_ids)), {**signed(), "encrypt_type": "aes"})
    assert resp.status_code == 400 and "明文" in resp.text


# ---- the reply limit -----------------------------------------------------------------------------


def test_trimming_never_cuts_the_phone() -> None:
    tail = f"具体申请条件,请咨询政策咨询电话 {PHONE}(青岛市城阳区人力资源和社会保障局)。"
    body = ["▶ " + "很长的要点" * 300, "第二行"]
    out = fit_reply(body, tail)
    assert len(out.encode()) <= MAX_REPLY_BYTES
    assert out.endswith(tail) and out.splitlines()[0].endswith("…")


def test_a_reply_listing_every_measure_fits(chars_assistant: Assistant) -> None:
    one = chars_assistant.ask(M3_QUESTION)
    every = [chars_assistant.answer_for(f"m{n}").measures[0] for n in range(1, 21)]
    keys = "\n".join(f"▶ 第{m.number}条:{m.quote}" for m in every)
    answer = replace(one, measures=tuple(every), answer=f"{keys}\n\n{one.answer}")
    text = reply_text(answer)
    assert len(text.encode()) <= MAX_REPLY_BYTES and PHONE in text.splitlines()[-1]
    tiny = reply_text(answer, limit=300)
    assert len(tiny.encode()) <= 300 and PHONE in tiny


# ---- the 5-second window -------------------------------------------------------------------------


class SlowEmbedder(CharEmbedder):
    """The chars embedder that, once armed, takes `delay` seconds per question (or until released)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.armed = False
        self.released = threading.Event()

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        if self.armed:
            self.released.wait(self.delay)
        return super().queries(texts)


def test_a_slow_model_still_gets_a_reply_within_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chars_assistant: Assistant
) -> None:
    # The embedder's own time limit is set high (as an operator might), so only the endpoint's
    # budget stands between a slow model and WeChat's 5-second cut-off.
    monkeypatch.setenv("POLICY_ASSISTANT_EMBED_TIMEOUT", "60")
    slow = SlowEmbedder(delay=60.0)  # far beyond the cut-off; released when the test is done
    bot = Assistant.load(index_dir=tmp_path / "index", embedder=slow)
    slow.armed = True
    settings = WebSettings(data_dir=tmp_path / "data", rate_limit=None, wechat_token=TOKEN, wechat_budget=1.0)
    with TestClient(create_app(bot, settings)) as c:
        try:
            started = time.perf_counter()
            content = ask(c, M3_QUESTION)
            elapsed = time.perf_counter() - started
        finally:
            slow.released.set()
    assert elapsed < 5, elapsed  # WeChat's cut-off; the model would have taken 60 s
    assert "第3条" in content and "区人力资源社会保障局" in content and PHONE in content
    assert re.search(r"每人每年不高于100元", content)


# ---- issue 22: replays refused on every replica; state shared by replicas -------------------------


def two_replicas(chars_assistant: Assistant, data_dir: Path, **extra: Any) -> tuple[TestClient, TestClient]:
    """Two apps over one data directory's store, as two replicas over one database."""
    settings = WebSettings(data_dir=data_dir, rate_limit=None, wechat_token=TOKEN, **extra)
    return TestClient(create_app(chars_assistant, settings)), TestClient(create_app(chars_assistant, settings))


def test_a_captured_query_string_is_refused_with_another_body_on_every_replica(
    chars_assistant: Assistant, data_dir: Path
) -> None:
    a, b = two_replicas(chars_assistant, data_dir)
    with a, b:
        params = signed()
        assert "第3条" in reply_of(post(a, text_message(M3_QUESTION, next(_ids)), params))["Content"]
        forged = text_message("创业担保贷款", next(_ids), user="oAttacker_zyxwvutsrqponmlkji")
        for replica in (a, b):
            resp = post(replica, forged, params)  # the same signature, timestamp and nonce, another body
            assert resp.status_code == 403
        assert post(b, forged).status_code == 200  # the same body under a fresh signature is fine
    with QuestionLog(data_dir) as log:
        assert log.count() == 2


def test_a_follow_up_and_a_retry_through_the_other_replica(chars_assistant: Assistant, data_dir: Path) -> None:
    a, b = two_replicas(chars_assistant, data_dir)
    with a, b:
        first = ask(a, "重点群体就业创业税收优惠政策")
        assert "第7条" in first
        follow = ask(b, "那找哪个部门?")  # the other replica knows the previous answer
        assert "城阳区税务局" in follow.split("相关条目")[0]
        body = text_message(M3_QUESTION, 777001)
        answered = reply_of(post(a, body))["Content"]
        assert reply_of(post(b, body))["Content"] == answered  # WeChat's retry, landing on b
    with QuestionLog(data_dir) as log:
        assert [e.context_used for e in reversed(log.recent())] == [False, True, False]  # 3 questions, once each


# ---- 安全模式 / 兼容模式: tested against an independent implementation of the published algorithm --------
# Written here from WeChat's 消息加解密 specification with pycryptodome (not web/wechat_crypto.py, which
# uses `cryptography`): AESKey = base64(EncodingAESKey + "="), IV = AESKey[:16], AES-256-CBC over
# random(16) + len(msg) as 4 bytes big-endian + msg + AppID, PKCS#7-padded to a multiple of 32.

ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the admin console shows
APPID = "wx5823bf96d3bd56c7"


def spec_encrypt(message: bytes, appid: str = APPID, key_text: str = ENCODING_AES_KEY) -> str:
    import base64
    import os
    import struct

    from Crypto.Cipher import AES

    key = base64.b64decode(key_text + "=")
    plain = os.urandom(16) + struct.pack(">I", len(message)) + message + appid.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    return base64.b64encode(AES.new(key, AES.MODE_CBC, key[:16]).encrypt(plain)).decode()


def spec_decrypt(encrypted: str, key_text: str = ENCODING_AES_KEY) -> tuple[bytes, bytes, int]:
    """(message, appid, padded length) of a ciphertext."""
    import base64
    import struct

    from Crypto.Cipher import AES

    key = base64.b64decode(key_text + "=")
    plain = AES.new(key, AES.MODE_CBC, key[:16]).decrypt(base64.b64decode(encrypted))
    padded = len(plain)
    plain = plain[: -plain[-1]]
    (n,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + n], plain[20 + n :], padded


def spec_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def encrypted_post(client: TestClient, message: bytes, *, compat: bool = False, appid: str = APPID,
                   tamper: bool = False, bad_signature: bool = False) -> Any:  # fmt: skip
    params = signed()
    encrypted = spec_encrypt(message, appid)
    if tamper:  # flip a bit of the last block: the padding (or the AppID) no longer checks out
        raw = bytearray(__import__("base64").b64decode(encrypted))
        raw[-1] ^= 0x01
        encrypted = __import__("base64").b64encode(bytes(raw)).decode()
    msg_signature = spec_signature(TOKEN, params["timestamp"], params["nonce"], encrypted)
    if bad_signature:
        msg_signature = spec_signature(TOKEN, params["timestamp"], params["nonce"], encrypted + "x")
    # 兼容模式 sends the plaintext fields and the ciphertext side by side; 安全模式 only the ciphertext.
    plain_fields = message.decode()[len("<xml>") : -len("</xml>")] if compat else f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
    body = f"<xml>{plain_fields}<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    query = {**params, "encrypt_type": "aes", "msg_signature": msg_signature, "openid": USER}
    return client.post("/wechat", params=query, content=body, headers={"Content-Type": "text/xml"})


def decrypted_reply(resp: Any) -> dict[str, str]:
    envelope = reply_of(resp)
    assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert envelope["MsgSignature"] == spec_signature(TOKEN, envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"])
    message, appid, padded = spec_decrypt(envelope["Encrypt"])
    assert appid == APPID.encode() and padded % 32 == 0
    root = ET.fromstring(message)
    return {child.tag: child.text or "" for child in root}


@pytest.fixture
def safe_client(chars_assistant: Assistant, data_dir: Path) -> Iterator[TestClient]:
    settings = WebSettings(data_dir=data_dir, rate_limit=None, wechat_token=TOKEN,
                           wechat_aes_key=ENCODING_AES_KEY, wechat_appid=APPID)  # fmt: skip
    with TestClient(create_app(chars_assistant, settings)) as c:
        yield c


@pytest.mark.parametrize("compat", [False, True], ids=["安全模式", "兼容模式"])
def test_an_encrypted_message_gets_an_encrypted_reply(safe_client: TestClient, data_dir: Path, compat: bool) -> None:
    reply = decrypted_reply(encrypted_post(safe_client, text_message(M3_QUESTION, next(_ids)), compat=compat))
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == (USER, ACCOUNT, "text")
    assert "第3条" in reply["Content"] and PHONE in reply["Content"]
    # A follow-up in the same mode keeps its context, and plaintext requests still work alongside.
    follow = decrypted_reply(encrypted_post(safe_client, text_message("那找哪个部门?", next(_ids)), compat=compat))
    assert "人力资源" in follow["Content"]
    assert "第3条" in reply_of(post(safe_client, text_message(M3_QUESTION, next(_ids))))["Content"]


def test_an_encrypted_message_for_another_account_or_altered_is_refused(safe_client: TestClient, data_dir: Path) -> None:
    message = text_message(M3_QUESTION, next(_ids))
    assert encrypted_post(safe_client, message, appid="wx0000000000000000").status_code == 400  # AppID check
    assert encrypted_post(safe_client, message, tamper=True).status_code == 400
    assert encrypted_post(safe_client, message, bad_signature=True).status_code == 403  # msg_signature
    with QuestionLog(data_dir) as log:
        assert log.count() == 0
    assert "第3条" in decrypted_reply(encrypted_post(safe_client, message))["Content"]


def test_our_encryption_decrypts_with_the_independent_implementation() -> None:
    from web.wechat_crypto import WeChatCrypto

    crypto = WeChatCrypto.from_encoding_key(TOKEN, ENCODING_AES_KEY, APPID)
    for size in (0, 1, 11, 12, 31, 32, 33, 500):  # around the 32-byte padding boundary
        message = ("政" * size).encode()[:size] if size % 3 == 0 else b"x" * size
        assert spec_decrypt(crypto.encrypt(message))[:2] == (message, APPID.encode())
        assert crypto.decrypt(spec_encrypt(message)) == message


def test_without_the_shared_store_messages_are_refused_not_answered_unprotected(
    client: TestClient, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.store import SharedState, SharedStateError

    def down(*args: Any, **kwargs: Any) -> None:
        raise SharedStateError("共享状态存储不可用:connection refused(测试)")

    monkeypatch.setattr(SharedState, "claim", down)
    resp = post(client, text_message(M3_QUESTION, next(_ids)))
    assert resp.status_code == 503  # WeChat retries; the replay check is never skipped
    with QuestionLog(data_dir) as log:
        assert log.count() == 0
