"""Script injection through the chat and the lookup search, in headless Chromium: every payload is
shown as literal text, no element is injected and no dialog ever opens.

The CSP (script-src 'self', no inline handlers) would stop most payloads from running even if
they were inserted as HTML, so the test checks the DOM as well as dialogs: escaping must hold on
its own, the CSP is the second line of defence.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from assistant import Assistant
from assistant.qlog import QuestionLog
from web.app import create_app
from web.localserver import running
from web.settings import WebSettings

pytestmark = [pytest.mark.browser]


PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<a href="javascript:alert(1)">点我领补贴</a>',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    "javascript:alert(1)",
    "{{constructor.constructor('alert(1)')()}}",
    "${alert(1)}",
    "</textarea><script>alert(1)</script>",
    "</script><script>alert(1)</script>",
    '<img src=x onerror="&#97;&#108;&#101;&#114;&#116;(1)">',
    "<marquee onstart=alert(1)>灵活就业</marquee>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="/evil/"><img src=x onerror="window.__pwned=1">',
    "灵活就业<img src=x onerror=alert(document.domain)>补贴",
]

# Elements none of the pages contain on their own; any of them appearing means a payload was parsed.
INJECTED = (
    "script:not([src]):not([type='application/json']), iframe, object, embed, svg, math, details, video,"
    " marquee, meta[http-equiv], base, input[autofocus], img[src='x'], a[href^='javascript']"
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xss-data")


@pytest.fixture(scope="module")
def base_url(chars_assistant: Assistant, data_dir: Path) -> Iterator[str]:
    app = create_app(chars_assistant, WebSettings(data_dir=data_dir, rate_limit=None))
    with running(app) as url:
        yield url


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[tuple[Page, list[str]]]:
    ctx = browser.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 1024, "height": 800})
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page, dialogs
    ctx.close()


# The chat's answers (the welcome message and the typing dots are not).
ANSWERED = ".msg.bot:not(.pending):not(#welcome)"


def assert_nothing_injected(page: Page) -> None:
    assert page.locator(INJECTED).count() == 0
    assert page.evaluate("() => window.__pwned") is None


def test_payloads_in_the_chat_are_shown_as_text(page: tuple[Page, list[str]]) -> None:
    p, dialogs = page
    p.goto("/")
    p.wait_for_selector("body[data-ready]")
    for i, payload in enumerate(PAYLOADS):
        p.fill("#q", payload)
        p.press("#q", "Enter")
        # Waited for on every animation frame (wait_for_function's default): expect() polls at 100, 250, 500,
        # 1000 ms, and an answer that lands just after a poll (the typing dots stay 450 ms) costs most of a
        # second, 26 times. The expect below then checks the count at once.
        p.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[ANSWERED, i + 1])
        expect(p.locator(ANSWERED)).to_have_count(i + 1)
        bubble = p.locator(".msg.user .bubble").last
        expect(bubble).to_have_text(payload)
        assert bubble.evaluate("b => b.childElementCount") == 0  # one text node, no markup
    assert_nothing_injected(p)
    # The stored conversation is drawn again on reload: still text.
    p.reload()
    p.wait_for_selector("body[data-ready]")
    expect(p.locator(".msg.user .bubble")).to_have_text(PAYLOADS)
    assert_nothing_injected(p)
    p.wait_for_timeout(200)
    assert dialogs == []


def test_payloads_in_the_lookup_search_are_shown_as_text(page: tuple[Page, list[str]]) -> None:
    p, dialogs = page
    p.goto("/lookup")
    for payload in PAYLOADS:
        p.fill("#q", payload)
        with p.expect_navigation():
            p.press("#q", "Enter")
        expect(p.locator(".lk-results h2")).to_contain_text(f"“{payload}”的检索结果")
        expect(p.locator("#q")).to_have_value(payload)
        assert p.title().startswith(payload)
        assert p.locator("#lk-refine input[name='q']").get_attribute("value") == payload
        assert_nothing_injected(p)
    p.wait_for_timeout(200)
    assert dialogs == []


def test_personal_data_typed_into_the_chat_is_replaced_and_logged_as_web(
    page: tuple[Page, list[str]], data_dir: Path
) -> None:
    p, _ = page
    p.goto("/")
    p.wait_for_selector("body[data-ready]")
    raw_id, mobile = "11010519491231002X", "139 1234 5678"
    p.fill("#q", f"我身份证{raw_id},电话{mobile},灵活就业有补贴吗")
    p.press("#q", "Enter")
    expect(p.locator(".msg.user .bubble").last).to_have_text("我身份证[身份证号],电话[手机号],灵活就业有补贴吗")
    stored = p.evaluate("() => JSON.stringify(sessionStorage)")
    assert raw_id not in stored and "1234 5678" not in stored
    sid = p.evaluate("() => sessionStorage.getItem('cy-policy-chat:sid')")
    assert sid and len(sid) == 32
    with QuestionLog(data_dir) as qlog:
        # Stored as a keyed hash of the tab's id, never the id itself.
        stored_sid = qlog.session_hash(sid)
        entry = next(e for e in qlog.recent(200) if e.session_id == stored_sid)
    assert stored_sid != sid
    assert entry.channel == "web" and entry.question == "我身份证[身份证号],电话[手机号],灵活就业有补贴吗"
