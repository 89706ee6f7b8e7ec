"""The chat on a real phone, round 2 (issue 23), in headless Chromium, one section per ES module of
web/static/: chat.js and chat-state.js (where the chat opens), chat-cards.js (expiry on the
sentence, folded quotes after a follow-up, cards of related documents), chat-suggest.js (chips),
chat-elder.js (长辈模式), and text that must not wrap (the header's date, the phone)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import Browser, Page, expect

from assistant import Assistant
from assistant.qlog import acceptable_session_id

pytestmark = [pytest.mark.browser]

PHONE = "0532-58659939"
DISTRICT = ZoneInfo("Asia/Shanghai")
TAX = "重点群体就业创业税收优惠政策"  # answered by 第7条's sentence with the deadline
GRADUATES = "小微企业招用毕业年度高校毕业生 社会保险费补贴"  # answered by 第7条's sentence without one
BUSY_UNIT = "区人力资源社会保障局负责哪些"  # three measures
FOLLOW_UP = "那这个找哪个部门办啊"
VIEWPORTS = [pytest.param({"width": 390, "height": 844}, id="390"), pytest.param({"width": 320, "height": 568}, id="320")]


def open_chat(browser: Browser, base_url: str, viewport: dict[str, int], elder: bool = False) -> Page:
    ctx = browser.new_context(base_url=base_url, locale="zh-CN", viewport=viewport, is_mobile=True, has_touch=True)
    if elder:  # as a returning user who switched it on earlier
        ctx.add_init_script("localStorage.setItem('cy-policy-chat:elder', '1')")
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    page.goto("/")
    page.wait_for_selector("body[data-ready]")
    return page


@pytest.fixture
def phone(browser: Browser, base_url: str) -> Iterator[Page]:
    page = open_chat(browser, base_url, {"width": 390, "height": 844})
    yield page
    page.context.close()


def ask(page: Page, question: str) -> None:
    answered = page.locator(".msg.bot:not(.pending)").count()
    page.fill("#q", question)
    page.press("#q", "Enter")
    # Waited for on every animation frame: expect()'s polls (100, 250, 500, 1000 ms) land up to half a second
    # after the answer (shown once the typing dots have stayed 450 ms). The expect then passes at once.
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[".msg.bot:not(.pending)", answered + 1]
    )
    expect(page.locator(".msg.bot:not(.pending)")).to_have_count(answered + 1)


def in_log_view(page: Page, selector: str) -> bool:
    """The element is entirely inside the visible part of the message list (not scrolled away,
    not under the composer)."""
    return page.locator(selector).first.evaluate(
        """e => { const log = document.getElementById('log').getBoundingClientRect();
                  const r = e.getBoundingClientRect();
                  return r.height > 0 && r.top >= log.top - 0.5 && r.bottom <= log.bottom + 0.5; }"""
    )


def line_boxes(page: Page, selector: str) -> list[int]:
    """How many line boxes each matching element occupies (its client rects, merged per line)."""
    return page.locator(selector).evaluate_all(
        "els => els.map(e => new Set([...e.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size)"
    )


# ---- chat.js / chat-state.js: where the chat opens -----------------------------------------------


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_a_new_chat_opens_at_the_greeting_and_the_privacy_notice(
    browser: Browser, base_url: str, viewport: dict[str, int], elder: bool
) -> None:
    page = open_chat(browser, base_url, viewport, elder)
    try:
        assert page.evaluate("() => document.getElementById('log').scrollTop") == 0
        if elder or viewport["width"] == 320:  # the chips run below the screen: there is somewhere to scroll to
            assert page.evaluate("() => { const l = document.getElementById('log'); return l.scrollHeight > l.clientHeight; }")
        assert in_log_view(page, "#privacy-notice")
        expect(page.locator("#welcome")).to_be_in_viewport()
        if viewport["width"] == 390:
            # The phone, without scrolling: in the greeting, or in 长辈模式 the bar always on screen.
            phone = page.locator(".call-bar" if elder else "#welcome a.call")
            expect(phone).to_be_in_viewport(ratio=1)
            expect(phone).to_contain_text(PHONE)
            if not elder:
                assert in_log_view(page, "#welcome a.call")
    finally:
        page.context.close()


def test_a_restored_chat_opens_at_its_last_question(phone: Page) -> None:
    ask(phone, BUSY_UNIT)
    ask(phone, TAX)
    phone.reload()
    phone.wait_for_selector("body[data-ready]")
    assert in_log_view(phone, ".msg.user >> nth=-1")
    # 清空 starts again at the top.
    phone.click("#clear")
    assert phone.evaluate("() => document.getElementById('log').scrollTop") == 0
    assert in_log_view(phone, "#privacy-notice")


# ---- chat-cards.js: expiry on the sentence, folded follow-ups, related documents --------------


def lapsed_tags(page: Page, card: Any) -> list[str]:
    """The sentence text right before each 「已到期」 tag in a card's key block."""
    return card.locator(".key-text").evaluate_all(
        "ps => ps.filter(p => p.querySelector('.lapsed-tag')).map(p => p.querySelector('mark').textContent)"
    )


def test_expiry_is_marked_on_the_sentence_whose_deadline_passed(phone: Page, chars_assistant: Assistant) -> None:
    (deadline,) = chars_assistant.chunk("m7").deadlines
    after = dt.datetime.combine(deadline.date + dt.timedelta(days=5), dt.time(10), DISTRICT)
    with time_machine.travel(after):
        ask(phone, GRADUATES)
        card = phone.locator('.msg.bot .card[data-id="m7"]').last
        expect(card.locator(".key mark")).to_contain_text("高校毕业生")
        expect(card.locator(".badge.expired")).to_have_count(0)  # the graduates' sentence states no end
        assert lapsed_tags(phone, card) == []
        expect(card.locator(".notes")).to_contain_text(deadline.sentence.rstrip("。"))
        card.locator("button.more").click()  # in the full text, the tag follows the tax sentence
        tagged = card.locator(".quote .lapsed-tag")
        expect(tagged).to_have_count(1)
        before_tag = tagged.evaluate("t => t.previousSibling.textContent")
        assert before_tag.endswith(deadline.sentence[-12:])

        ask(phone, TAX)
        card = phone.locator('.msg.bot .card[data-id="m7"]').last
        expect(card.locator(".badge.expired")).to_have_text("已过期")  # every highlighted sentence has passed
        assert lapsed_tags(phone, card) == [deadline.sentence]
    # Before the deadline ended in the district: no badge, no tag, no note.
    on_the_day = dt.datetime.combine(deadline.date, dt.time(23, 0), DISTRICT)
    with time_machine.travel(on_the_day):
        phone.click("#clear")
        ask(phone, TAX)
        card = phone.locator('.msg.bot .card[data-id="m7"]').last
        expect(card.locator(".key mark")).to_be_visible()
        expect(card.locator(".badge.expired")).to_have_count(0)
        expect(card.locator(".lapsed-tag")).to_have_count(0)
        expect(card.locator(".notes")).to_have_count(0)


def test_after_a_follow_up_the_quotes_stay_folded_and_the_answer_fits_a_screen(phone: Page) -> None:
    ask(phone, BUSY_UNIT)
    ask(phone, FOLLOW_UP)
    last = phone.locator(".msg.bot").last
    cards = last.locator(".card")
    assert cards.count() == 3
    expect(last.locator(".keylines li")).to_have_count(3)  # one line per measure: its units
    for i in range(3):
        card = cards.nth(i)
        expect(card.locator(".quote")).to_be_hidden()
        expect(card.locator(".units")).to_be_hidden()
        more = card.locator("button.more")
        expect(more).to_have_text("查看条文全文")
    height = last.locator(".bubble").evaluate("b => b.getBoundingClientRect().height")
    assert height <= phone.evaluate("() => document.getElementById('log').clientHeight")
    first = cards.nth(0)
    first.locator("button.more").click()  # one tap away
    expect(first.locator(".quote")).to_be_visible()
    expect(first.locator(".units")).to_be_visible()
    # Drawn the same way after a reload.
    phone.reload()
    phone.wait_for_selector("body[data-ready]")
    expect(phone.locator(".msg.bot").last.locator(".card .quote").first).to_be_hidden()
    # The first answer (not a follow-up) is drawn as before: its units are in view.
    expect(phone.locator(".msg.bot").nth(1).locator(".card .units").first).to_be_visible()


def test_a_measure_of_a_related_document_names_it_and_its_phone(phone: Page, chars_assistant: Assistant) -> None:
    answer = chars_assistant.ask(BUSY_UNIT).to_dict()
    primary = answer["measures"][0]
    related = dict(answer["measures"][1])
    # As a related rule's chunk arrives (GUIDE §3): its own label, document and phone.
    related |= {"id": "banfa:a5", "doc": "banfa", "number": 5, "label": "第五条", "phone": "0532-80000000",
                "doc_title": "城阳区就业补贴资金管理办法(示例)", "doc_number": "城人社发〔2025〕1号"}  # fmt: skip
    answer["measures"] = [primary, related]
    answer["answer_id"] = "x" * 32
    body = json.dumps(answer, ensure_ascii=False)
    phone.route("**/api/ask", lambda route: route.fulfill(status=200, content_type="application/json", body=body))
    ask(phone, BUSY_UNIT)
    last = phone.locator(".msg.bot").last
    other = last.locator('.card[data-id="banfa:a5"]')
    expect(other.locator(".card-num")).to_have_text("第五条")
    expect(other.locator(".card-doc")).to_have_text("《城阳区就业补贴资金管理办法(示例)》(城人社发〔2025〕1号)")
    expect(other.locator("a.call")).to_have_attribute("href", "tel:0532-80000000")
    own = last.locator(f'.card[data-id="{primary["id"]}"]')
    expect(own.locator(".card-num")).to_have_text(f"第{primary['number']}条")
    expect(own.locator(".card-doc")).to_have_count(0)
    expect(own.locator("a.call")).to_have_count(0)


# ---- chat-suggest.js and text that must not wrap ----------------------------------------------


def test_the_clarify_reply_keeps_the_phone_whole_and_its_chips_do_not_repeat_its_examples(
    browser: Browser, base_url: str
) -> None:
    page = open_chat(browser, base_url, {"width": 320, "height": 568})
    try:
        assert line_boxes(page, ".topbar p .nowrap") == [1, 1, 1]  # 「本文件2024年7月16日印发」 in one piece
        ask(page, "那找哪个部门?")  # nothing to follow up: which measure is meant?
        bubble = page.locator(".msg.bot").last.locator(".plain")
        expect(bubble).to_contain_text("哪一项")
        expect(bubble.locator(".tel-num")).to_have_text(PHONE)
        assert line_boxes(page, ".msg.bot .plain .tel-num") == [1]
        assert set(line_boxes(page, ".tel-num")) <= {0, 1}  # nowhere on the page (0: not shown)
        examples = [ln[2:] for ln in bubble.inner_text().split("\n") if ln.startswith("· ")]
        assert len(examples) == 4
        chips = page.locator(".quick .quick-chip").all_inner_texts()
        assert chips and not set(chips) & set(examples)
        page.locator(".quick-chip").first.click()  # they are questions that answer
        expect(page.locator(".msg.bot").last.locator(".card").first).to_be_visible()
    finally:
        page.context.close()


# ---- chat-elder.js: 长辈模式 ---------------------------------------------------------------------


def test_elder_mode_shows_the_group_intro_and_one_phone_button(phone: Page) -> None:
    phone.click("#elder")
    phone.locator('.group-chip[data-group="退役军人"]').click()
    last = phone.locator(".msg.bot").last
    expect(last.locator(".card").first).to_be_visible()
    intro = last.locator(".intro")
    expect(intro).to_be_visible()
    expect(intro).to_contain_text("您属于“退役军人”")
    phone.evaluate("() => { const log = document.getElementById('log'); log.scrollTop = log.scrollHeight; }")
    visible_calls = phone.locator("a[href^='tel:']").evaluate_all(
        "as => as.filter(a => a.checkVisibility() && a.getBoundingClientRect().bottom > 0).length"
    )
    assert visible_calls == 1
    expect(phone.locator(".call-bar")).to_be_in_viewport(ratio=1)


def test_elder_mode_turned_on_after_chatting_leaves_the_placeholder_whole(browser: Browser, base_url: str) -> None:
    page = open_chat(browser, base_url, {"width": 320, "height": 640})
    try:
        ask(page, TAX)
        page.click("#elder")
        box = page.locator("#q")
        fits = box.evaluate("t => t.scrollHeight <= t.clientHeight + 1")
        lines = box.evaluate("t => Math.round(t.clientHeight / parseFloat(getComputedStyle(t).lineHeight))")
        assert fits and lines >= 2, lines  # the placeholder wraps to two lines at 20 px, and both show
        page.click("#elder")  # and back
        assert box.evaluate("t => t.scrollHeight <= t.clientHeight + 1")
    finally:
        page.context.close()


def test_switching_elder_mode_keeps_the_reader_where_they_were(phone: Page) -> None:
    phone.click("#elder")  # on a new chat: still at the greeting and the privacy notice
    assert phone.evaluate("() => document.getElementById('log').scrollTop") == 0
    assert in_log_view(phone, "#privacy-notice")
    phone.click("#elder")
    ask(phone, BUSY_UNIT)
    ask(phone, TAX)
    # Read from the first answer's second card, then switch: that card is still at the top.
    card = phone.locator(".msg.bot").nth(1).locator(".card").nth(1)
    card.evaluate("c => { const log = document.getElementById('log'); log.scrollTop += c.getBoundingClientRect().top - log.getBoundingClientRect().top; }")
    phone.click("#elder")
    top = card.evaluate("c => c.getBoundingClientRect().top - document.getElementById('log').getBoundingClientRect().top")
    assert abs(top) <= 40, top


# ---- chat-feedback.js ------------------------------------------------------------------------------


def test_a_vote_is_kept_with_the_answer_across_a_reload(phone: Page) -> None:
    ask(phone, TAX)
    answer = phone.locator(".msg.bot").last
    answer.locator(".fb-yes").click()
    expect(answer.locator(".fb-status")).not_to_be_empty()
    expect(answer.locator(".fb-yes")).to_have_attribute("aria-pressed", "true")
    phone.reload()
    phone.wait_for_selector("body[data-ready]")
    again = phone.locator(".msg.bot").last
    expect(again.locator(".fb-yes")).to_have_attribute("aria-pressed", "true")
    expect(again.locator(".fb-no")).to_have_attribute("aria-pressed", "false")


# ---- /privacy in a citizen's words ----------------------------------------------------------------


def test_the_privacy_page_speaks_plainly_and_keeps_the_technical_terms_for_staff(phone: Page) -> None:
    phone.goto("/privacy")
    main = phone.locator("main")
    expect(main).to_contain_text("本机浏览器里保存的")
    note = phone.locator("#staff-note")
    for term in ("sessionStorage", "localStorage", "Cookie"):
        expect(note).to_contain_text(term)
    plain = main.evaluate("m => { const c = m.cloneNode(true); c.querySelector('#staff-note').remove(); return c.textContent; }")
    assert not any(term in plain for term in ("sessionStorage", "localStorage", "Cookie", "标签页"))
    sizes = phone.evaluate(
        "() => [getComputedStyle(document.getElementById('staff-note')).fontSize, getComputedStyle(document.querySelector('main li')).fontSize]"
    )
    assert float(sizes[0].removesuffix("px")) < float(sizes[1].removesuffix("px"))  # a small note


# ---- the modules themselves ---------------------------------------------------------------------


def test_the_chat_loads_as_es_modules_under_the_csp_and_never_mixes_releases(browser: Browser, base_url: str) -> None:
    ctx = browser.new_context(base_url=base_url, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    loaded: dict[str, str] = {}
    page.on("response", lambda r: loaded.__setitem__(r.url.split("/static/")[-1], r.headers.get("cache-control", "")))
    try:
        page.goto("/")
        page.wait_for_selector("body[data-ready]")
        modules = {name for name in loaded if name.startswith("chat") and name.endswith(".js")}
        assert {"chat-state.js", "chat-cards.js", "chat-feedback.js", "chat-suggest.js", "chat-elder.js"} <= modules
        # Imported by plain URL: revalidated, so a new release is never mixed with cached modules;
        # the entry carries its content hash and may be cached for long.
        assert all(loaded[name] == "no-cache" for name in modules)
        entry = next(name for name in loaded if name.startswith("chat.js?v="))
        assert "max-age" in loaded[entry]
        assert errors == []
    finally:
        ctx.close()


# --- chat-feedback.js -------------------------------------------------------------------------------


def test_a_comment_sent_before_the_vote_returned_keeps_its_thanks(browser: Browser, base_url: str) -> None:
    """On a slow line the 没帮助 vote can come back after the comment typed behind it: the comment's 「感谢」 must
    stay, not be replaced by the vote's prompt for a comment, with the comment box shown again."""
    page = open_chat(browser, base_url, {"width": 390, "height": 844})
    # The first feedback reply (the vote) is held until the comment's has landed.
    page.evaluate(
        """() => {
          const real = window.fetch; let n = 0; let release; const gate = new Promise((r) => { release = r; });
          window.fetch = async (url, opts) => {
            const res = await real(url, opts);
            if (!String(url).includes('/api/feedback')) return res;
            if (n++ === 0) { await gate; document.body.dataset.voteLanded = "1"; } else { setTimeout(release, 0); }
            return res;
          };
        }"""
    )
    page.fill("#q", "灵活就业人员意外伤害保险补贴")
    page.press("#q", "Enter")
    answer = page.locator(".msg.bot:not(.pending)").last
    answer.locator(".fb-no").click()
    answer.locator(".fb-text").fill("没说骑手去哪里申请")
    answer.locator(".fb-submit").click()
    page.wait_for_selector("body[data-vote-landed]", state="attached")
    expect(answer.locator(".fb-status")).to_contain_text("感谢")
    expect(answer.locator(".fb-comment")).to_be_hidden()
    page.context.close()


def test_the_chats_session_ids_are_never_dropped_as_personal_data(phone: Page) -> None:
    """The tab's anonymous id groups its questions on the dashboard; the server drops an id it reads as personal data
    (qlog.acceptable_session_id), so the chat must never draw one. 5,000 draws: hex ids failed about 1 in 600."""
    ids = phone.evaluate(
        """async () => {
            const src = [...document.scripts].map((s) => s.src).find((u) => u.includes("/static/chat.js"));
            const { sessionId } = await import(new URL("./chat-state.js", src).href);
            const out = [];
            for (let i = 0; i < 5000; i++) {
                sessionStorage.removeItem("cy-policy-chat:sid");
                out.push(sessionId());
            }
            return out;
        }"""
    )
    assert len(set(ids)) == len(ids) == 5000
    dropped = [s for s in ids if not acceptable_session_id(s)]
    assert not dropped, dropped[:3]
