"""The chat and the lookup in headless Chromium, as citizens and hotline staff use them.

Debian's chromium is driven through playwright (`playwright install` cannot download browsers here).
Without /usr/bin/chromium these tests skip, except on CI (CI=true), where that is a failure (tests/conftest.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect

from assistant import Assistant

pytestmark = [
    pytest.mark.browser,
]

PHONE = "0532-58659939"
TEL = f"tel:{PHONE}"
M3_QUESTION = "灵活就业人员意外伤害保险补贴"  # worded for the model-free test embedder
XSS = "<img src=x onerror=alert(1)>"
VETERANS = "区退役军人事务局"
STORE_KEY = "cy-policy-chat:v1"


class Console:
    """Console errors and uncaught exceptions of one page; CSP violations show up here."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(msg.text)

    def unexpected(self, allowed: str = r"$^") -> list[str]:
        return [e for e in self.errors if not re.search(allowed, e)]


def new_page(browser: Browser, base_url: str, **context: Any) -> tuple[Page, Console]:
    ctx = browser.new_context(base_url=base_url, locale="zh-CN", **context)
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    return page, Console(page)


@pytest.fixture
def phone(browser: Browser, base_url: str) -> Iterator[tuple[Page, Console]]:
    page, console = new_page(browser, base_url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto("/")
    page.wait_for_selector("body[data-ready]")
    yield page, console
    page.context.close()


@pytest.fixture
def desk(browser: Browser, base_url: str) -> Iterator[tuple[Page, Console]]:
    page, console = new_page(
        browser, base_url, viewport={"width": 1280, "height": 800}, permissions=["clipboard-read", "clipboard-write"]
    )
    yield page, console
    page.context.close()


def ask(page: Page, question: str) -> None:
    """Type a question, press Enter, wait for the reply bubble."""
    answered = page.locator(".msg.bot:not(.pending)").count()
    page.fill("#q", question)
    page.press("#q", "Enter")
    # Waited for on every animation frame: expect()'s polls (100, 250, 500, 1000 ms) land up to half a second
    # after the answer (shown once the typing dots have stayed 450 ms). The expect then passes at once.
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[".msg.bot:not(.pending)", answered + 1]
    )
    expect(page.locator(".msg.bot:not(.pending)")).to_have_count(answered + 1)


# ---- citizen chat -----------------------------------------------------------------------------


def test_question_shows_the_m3_card_with_units_and_tel_link(phone: tuple[Page, Console]) -> None:
    page, console = phone
    page.fill("#q", M3_QUESTION)
    page.press("#q", "Enter")
    expect(page.locator(".msg.user .bubble").last).to_have_text(M3_QUESTION)
    expect(page.locator(".typing")).to_be_visible()  # the indicator shows while the server answers
    card = page.locator('.card[data-id="m3"]')
    expect(card).to_be_visible()
    expect(page.locator(".typing")).to_have_count(0)
    expect(card.locator(".card-num")).to_have_text("第3条")
    expect(card.locator(".card-title")).to_have_text("实施灵活就业促进工程")
    expect(card.locator(".units .chip")).to_have_text(["区人力资源社会保障局", "各街道办事处"])
    call = page.locator(".msg.bot").last.locator("a.call")
    expect(call).to_have_attribute("href", TEL)
    expect(call).to_contain_text(PHONE)
    assert console.unexpected() == []


def test_long_quote_folds_and_unfolds(phone: tuple[Page, Console]) -> None:
    page, _ = phone
    ask(page, "第1条")  # cited by number: no highlights, the quote itself folds
    card = page.locator('.card[data-id="m1"]')
    quote, more = card.locator(".quote"), card.locator("button.more")
    expect(quote).to_have_class(re.compile(r"\bcollapsed\b"))
    folded = quote.bounding_box()
    expect(more).to_have_text("展开全文")
    more.click()
    expect(quote).not_to_have_class(re.compile(r"\bcollapsed\b"))
    expect(more).to_have_text("收起")
    expect(more).to_have_attribute("aria-expanded", "true")
    opened = quote.bounding_box()
    assert folded and opened and opened["height"] > folded["height"]


def test_with_highlights_the_full_measure_opens_on_demand_with_the_sentence_marked(phone: tuple[Page, Console]) -> None:
    page, _ = phone
    ask(page, M3_QUESTION)
    card = page.locator('.card[data-id="m3"]')
    expect(card.locator(".key mark").first).to_contain_text("100元")
    quote, more = card.locator(".quote"), card.locator("button.more")
    expect(quote).to_be_hidden()
    expect(more).to_have_text("查看条文全文")
    more.click()
    expect(quote).to_be_visible()
    expect(quote.locator("mark").first).to_contain_text("100元")
    expect(quote).to_contain_text("实施灵活就业促进工程。")


def test_validity_notes_are_shown(phone: tuple[Page, Console]) -> None:
    page, _ = phone
    ask(page, "吸纳就业补贴 重点群体就业创业税收优惠")
    notes = page.locator('.card[data-id="m7"] .notes li')
    expect(notes.first).to_contain_text("提示:")


def test_quick_reply_chips_on_load_and_after_each_answer(
    phone: tuple[Page, Console], chars_assistant: Assistant
) -> None:
    page, _ = phone
    chips = page.locator(".quick .quick-chip:not(.group-chip)")
    expect(chips).to_have_text(list(chars_assistant.suggestions()))
    ask(page, M3_QUESTION)
    expect(page.locator(".quick")).to_have_count(1)
    after = page.locator(".quick .quick-chip").all_inner_texts()
    # The chips now follow the answer (m3): its next questions, not the starter list.
    assert after == list(chars_assistant.ask(M3_QUESTION).suggestions)
    assert "找哪个部门办?" in after


def test_conversation_survives_reload(phone: tuple[Page, Console]) -> None:
    page, _ = phone
    ask(page, M3_QUESTION)
    ask(page, "你好")
    page.reload()
    page.wait_for_selector("body[data-ready]")
    expect(page.locator(".msg.user .bubble")).to_have_text([M3_QUESTION, "你好"])
    expect(page.locator('.card[data-id="m3"]')).to_be_visible()
    stored = json.loads(page.evaluate(f"() => sessionStorage.getItem('{STORE_KEY}')"))
    assert [h["role"] for h in stored] == ["user", "bot", "user", "bot"]
    # 清空 forgets it.
    page.click("#clear")
    expect(page.locator(".msg.user")).to_have_count(0)
    page.reload()
    page.wait_for_selector("body[data-ready]")
    expect(page.locator(".msg.user")).to_have_count(0)
    expect(page.locator(".quick .quick-chip").first).to_be_visible()


def test_markup_in_a_question_is_shown_as_text(phone: tuple[Page, Console]) -> None:
    page, console = phone
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    ask(page, XSS)
    expect(page.locator(".msg.user .bubble").last).to_have_text(XSS)
    assert page.locator("#log img[src='x']").count() == 0
    page.reload()  # and again when the stored conversation is drawn
    page.wait_for_selector("body[data-ready]")
    expect(page.locator(".msg.user .bubble").last).to_have_text(XSS)
    assert page.locator("#log img[src='x']").count() == 0
    page.wait_for_timeout(200)
    assert dialogs == []
    assert console.unexpected() == []


def test_unreachable_server_gets_a_friendly_message_and_retry(phone: tuple[Page, Console]) -> None:
    page, console = phone
    page.route("**/api/ask", lambda route: route.abort("connectionrefused"))
    page.fill("#q", M3_QUESTION)
    page.press("#q", "Enter")
    error = page.locator(".bubble.error")
    expect(error).to_contain_text("连不上")
    expect(error.locator("a.call")).to_have_attribute("href", TEL)
    page.unroute("**/api/ask")
    error.locator("button.retry").click()
    expect(page.locator('.card[data-id="m3"]')).to_be_visible()
    expect(page.locator(".bubble.error")).to_have_count(0)
    expect(page.locator(".msg.user")).to_have_count(1)  # the retry does not repeat the question
    assert console.unexpected(allowed="net::ERR_") == []


def test_rejected_question_shows_the_servers_message(phone: tuple[Page, Console]) -> None:
    page, console = phone
    body = json.dumps({"error": "invalid_question", "message": "问题太长了(最多 500 个字)"}, ensure_ascii=False)
    page.route(
        "**/api/ask", lambda route: route.fulfill(status=422, content_type="application/json; charset=utf-8", body=body)
    )
    ask(page, "测试")
    expect(page.locator(".bubble.error")).to_contain_text("问题太长了")
    assert console.unexpected(allowed="status of 422") == []


def test_enter_sends_and_shift_enter_breaks_the_line(phone: tuple[Page, Console]) -> None:
    page, _ = phone
    expect(page.locator("#send")).to_be_disabled()
    page.fill("#q", "灵活就业")
    page.press("#q", "Shift+Enter")
    assert page.input_value("#q") == "灵活就业\n"
    assert page.locator(".msg.user").count() == 0
    page.type("#q", "补贴")
    page.press("#q", "Enter")
    expect(page.locator(".msg.user .bubble")).to_have_text("灵活就业\n补贴")
    expect(page.locator("#q")).to_have_value("")


# ---- hotline lookup ---------------------------------------------------------------------------


def test_filter_by_unit_shows_exactly_its_measures(desk: tuple[Page, Console], chars_assistant: Assistant) -> None:
    page, console = desk
    page.goto("/lookup")
    page.locator(f'.lk-side a[data-unit="{VETERANS}"]').click()
    page.wait_for_url(re.compile(r"unit="))
    cards = page.locator(".lk-all .lk-card")
    expected = [c.id for c in chars_assistant.chunks if VETERANS in c.lead_units]
    assert expected == ["m10", "m18"]
    expect(cards).to_have_count(len(expected))
    assert [cards.nth(i).get_attribute("data-id") for i in range(len(expected))] == expected
    for i in range(len(expected)):
        expect(cards.nth(i).locator(".chip", has_text=VETERANS)).to_be_visible()
    expect(page.locator(".lk-active")).to_contain_text(VETERANS)
    assert console.unexpected() == []


def test_copy_answer_on_the_detail_page(desk: tuple[Page, Console]) -> None:
    page, console = desk
    page.goto("/lookup/m7")
    page.click("#copy-answer")
    expect(page.locator("#copy-answer")).to_contain_text("已复制")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert PHONE in copied and "第7条" in copied
    assert copied == page.locator("#reply-text").text_content()
    assert console.unexpected() == []


def test_copy_answer_from_a_list_card(desk: tuple[Page, Console], chars_assistant: Assistant) -> None:
    page, _ = desk
    page.goto("/lookup")
    page.locator('.lk-all .lk-card[data-id="m3"] button.copy').click()
    expect(page.locator('.lk-all .lk-card[data-id="m3"] button.copy')).to_contain_text("已复制")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == chars_assistant.answer_for("m3").answer
    assert PHONE in copied


def test_keyboard_search_arrows_and_enter(desk: tuple[Page, Console]) -> None:
    page, _ = desk
    page.goto("/lookup")
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("退役军人")
    page.keyboard.press("Enter")
    expect(page.locator(".lk-results")).to_be_visible()
    assert "退役" not in page.url  # the search was POSTed: no question in the URL
    page.keyboard.press("ArrowDown")
    first = page.locator(".lk-results [data-nav]").first
    expect(first).to_be_focused()
    page.keyboard.press("ArrowDown")  # to the next card on screen (weak hits are folded away)
    expect(page.locator("[data-nav] >> visible=true").nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(first).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/lookup/m10\?r=[A-Za-z0-9_-]{16}$"))  # the result id, for the way back
    expect(page.locator("h1")).to_contain_text("第10条")


def test_typing_a_number_jumps_to_that_measure(desk: tuple[Page, Console]) -> None:
    page, _ = desk
    page.goto("/lookup")
    page.keyboard.type("12")
    page.wait_for_url(re.compile(r"/lookup/m12$"))
    expect(page.locator(".fulltext")).to_be_visible()
    page.keyboard.press("7")  # one digit that cannot start a two-digit number jumps at once
    page.wait_for_url(re.compile(r"/lookup/m7$"))
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(r"/lookup/m8$"))
    page.keyboard.press("Escape")
    page.wait_for_url(re.compile(r"/lookup$"))
    page.fill("#q", "第5条")  # and from the search box
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/lookup/m5$"))


def test_pages_run_under_the_csp_without_errors(desk: tuple[Page, Console]) -> None:
    page, console = desk
    for path in ("/", "/lookup", "/lookup?section=(七)全面优化就业服务水平", "/lookup/notice"):
        page.goto(path)
        page.wait_for_load_state("load")
    page.fill("#q", "就业")
    page.press("#q", "Enter")
    expect(page.locator(".lk-results")).to_be_visible()
    page.goto("/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert console.unexpected() == []


def test_filters_keep_the_search_without_putting_it_in_the_url(desk: tuple[Page, Console]) -> None:
    page, console = desk
    page.goto("/lookup")
    page.fill("#q", "退役军人创业")
    page.press("#q", "Enter")
    expect(page.locator(".lk-results")).to_be_visible()
    page.locator(f'.lk-side button[data-unit="{VETERANS}"]').click()
    expect(page.locator(".lk-active")).to_contain_text(VETERANS)
    expect(page.locator(".lk-results h2")).to_contain_text("退役军人创业")
    ids = page.locator(".lk-results .lk-card").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids and set(ids) <= {"m10", "m18"}
    assert re.search(r"/lookup/r/[A-Za-z0-9_-]{16}$", page.url) and "退役" not in page.url
    page.locator(".lk-active button.lk-clear").click()
    expect(page.locator(".lk-active")).to_have_count(0)
    expect(page.locator(".lk-results h2")).to_contain_text("退役军人创业")
    assert console.unexpected() == []
