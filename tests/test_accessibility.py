"""Accessibility of the served pages in headless Chromium (issue 14).

- axe-core (vendored: tests/vendor/axe.min.js, see tests/vendor/README.md) runs with the WCAG 2.1
  A/AA and best-practice rules on every page and state a citizen or a hotline worker reaches; any
  violation of impact serious or critical fails, and so do the moderate ones about structure
  (landmarks, headings, labels).
- 长辈模式 (elder mode) on the chat: text ≥ 20 px, tap targets ≥ 48 px, text contrast ≥ 7:1 (axe's
  AAA rule), the phone button always in view, remembered across a reload, no sideways scrolling at
  320 px.
- The keyboard-only path: Tab to the question box, type, Enter, then Tab on to the answer's phone link.

Same skip rule as tests/test_browser.py: without /usr/bin/chromium these skip, except on CI.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = [pytest.mark.browser]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
PHONE = "0532-58659939"
TEL = f"tel:{PHONE}"
M3_QUESTION = "灵活就业人员意外伤害保险补贴"  # worded for the model-free test embedder
DECLINED = "社保卡怎么办"  # a neighbouring service: declined with where to go
CLARIFY = "那找哪个部门?"  # a follow-up without a previous answer: which measure is meant?
LOOKUP_QUESTION = "退役军人创业"
VETERANS = "区退役军人事务局"
ELDER_KEY = "cy-policy-chat:elder"
RESULT_URL = re.compile(r"/lookup/r/[A-Za-z0-9_-]{16}$")

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING_IMPACTS = {"serious", "critical"}
# Moderate rules about the page's structure: a reader navigates by landmarks, headings and labels.
STRUCTURE_RULES = {
    "landmark-one-main",
    "landmark-unique",
    "landmark-no-duplicate-main",
    "landmark-main-is-top-level",
    "landmark-banner-is-top-level",
    "landmark-contentinfo-is-top-level",
    "landmark-complementary-is-top-level",
    "region",
    "heading-order",
    "page-has-heading-one",
    "empty-heading",
    "label",
    "label-title-only",
    "aria-allowed-role",
    "list",
    "listitem",
}


@pytest.fixture(scope="module")
def axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def new_page(browser: Browser, base_url: str, **context: Any) -> Page:
    ctx = browser.new_context(base_url=base_url, locale="zh-CN", **context)
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def phone(browser: Browser, base_url: str) -> Iterator[Page]:
    page = new_page(browser, base_url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    yield page
    page.context.close()


@pytest.fixture
def desk(browser: Browser, base_url: str) -> Iterator[Page]:
    page = new_page(browser, base_url, viewport={"width": 1280, "height": 800})
    yield page
    page.context.close()


def open_chat(page: Page) -> None:
    page.goto("/")
    page.wait_for_selector("body[data-ready]")


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
    expect(page.locator(".quick")).to_have_count(1)


def lookup_search(page: Page, question: str) -> None:
    page.goto("/lookup")
    page.fill("#q", question)
    with page.expect_navigation():
        page.press("#q", "Enter")
    page.wait_for_url(RESULT_URL)
    expect(page.locator(".lk-results")).to_be_visible()


# ---- axe --------------------------------------------------------------------------------------


def run_axe(page: Page, source: str, *, rules: list[str] | None = None) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now. The pages' CSP (script-src 'self') forbids an
    injected <script>, so axe's source is evaluated through the DevTools protocol instead."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(source)
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    else:
        options["runOnly"] = {"type": "tag", "values": AXE_TAGS}
    return page.evaluate("options => axe.run(document, options).then(r => r.violations)", options)


def failing(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in FAILING_IMPACTS or v["id"] in STRUCTURE_RULES]


def describe(violations: list[dict[str, Any]]) -> str:
    """One block per rule: its impact, what it wants, and each offending element with axe's reason."""
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} 个元素)")
        for node in v["nodes"][:12]:
            target = " ".join(str(t) for t in node["target"])
            why = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {target}\n      {node['html'][:160]}\n      {why[:300]}")
        if len(v["nodes"]) > 12:
            lines.append(f"    …另有 {len(v['nodes']) - 12} 个")
    return "\n".join(lines)


def assert_accessible(page: Page, source: str, state: str) -> None:
    bad = failing(run_axe(page, source))
    assert not bad, f"{state}: axe 发现 {len(bad)} 类问题\n{describe(bad)}"


# ---- every page and state, citizen's phone and hotline desk -----------------------------------


def test_chat_empty(phone: Page, axe_source: str) -> None:
    open_chat(phone)
    assert_accessible(phone, axe_source, "空对话")


def test_chat_after_an_answer_with_the_quote_open(phone: Page, axe_source: str) -> None:
    open_chat(phone)
    ask(phone, M3_QUESTION)
    assert_accessible(phone, axe_source, "答复之后")
    phone.locator('.card[data-id="m3"] button.more').click()
    phone.locator(".msg.bot").last.locator(".fb-no").click()
    expect(phone.locator(".msg.bot").last.locator(".fb-comment")).to_be_visible()
    assert_accessible(phone, axe_source, "展开全文、点“没帮助”之后")


def test_chat_after_a_decline(phone: Page, axe_source: str) -> None:
    open_chat(phone)
    ask(phone, DECLINED)
    expect(phone.locator(".msg.bot").last).to_contain_text("12333")
    assert_accessible(phone, axe_source, "拒答之后")


def test_chat_after_a_clarify_reply(phone: Page, axe_source: str) -> None:
    open_chat(phone)
    ask(phone, CLARIFY)
    expect(phone.locator(".msg.bot").last).to_contain_text("哪一项")
    assert_accessible(phone, axe_source, "追问澄清之后")


def test_chat_with_an_error_reply(phone: Page, axe_source: str) -> None:
    open_chat(phone)
    phone.route("**/api/ask", lambda route: route.abort("connectionrefused"))
    phone.fill("#q", M3_QUESTION)
    phone.press("#q", "Enter")
    expect(phone.locator(".bubble.error")).to_be_visible()
    assert_accessible(phone, axe_source, "连不上服务")


def test_privacy_page(phone: Page, axe_source: str) -> None:
    phone.goto("/privacy")
    assert_accessible(phone, axe_source, "隐私说明")


def test_not_found_page(desk: Page, axe_source: str) -> None:
    response = desk.goto("/no-such-page")
    assert response is not None and response.status == 404
    assert_accessible(desk, axe_source, "404")
    response = desk.goto("/lookup/m99")
    assert response is not None and response.status == 404
    assert_accessible(desk, axe_source, "不存在的条目")


def test_lookup_empty(desk: Page, axe_source: str) -> None:
    desk.goto("/lookup")
    assert_accessible(desk, axe_source, "热线查询(未搜索)")


def test_lookup_with_results_and_filters(desk: Page, axe_source: str) -> None:
    lookup_search(desk, LOOKUP_QUESTION)
    assert_accessible(desk, axe_source, "热线查询结果")
    desk.locator(f'.lk-side button[data-unit="{VETERANS}"]').click()
    expect(desk.locator(".lk-active")).to_contain_text(VETERANS)
    assert_accessible(desk, axe_source, "热线查询结果(按责任单位筛选)")


def test_lookup_declined_search(desk: Page, axe_source: str) -> None:
    lookup_search(desk, "失业金怎么领")
    expect(desk.locator(".lk-decline")).to_be_visible()
    assert_accessible(desk, axe_source, "热线查询(文件未涉及)")
    lookup_search(desk, LOOKUP_QUESTION)
    toggle = desk.locator("#lk-weak-toggle")
    expect(toggle).not_to_be_checked()
    desk.locator("label[for='lk-weak-toggle']").click()  # the folded weak hits, opened
    expect(desk.locator(".lk-card.weak").first).to_be_visible()
    assert_accessible(desk, axe_source, "热线查询(展开弱相关条目)")


def test_lookup_filtered_list(desk: Page, axe_source: str) -> None:
    desk.goto("/lookup")
    desk.locator(f'.lk-side a[data-unit="{VETERANS}"]').click()
    desk.wait_for_url(re.compile(r"unit="))
    assert_accessible(desk, axe_source, "热线查询(按责任单位浏览)")


def test_lookup_over_a_library_of_documents(
    browser: Browser, axe_source: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The 文件 facet, documents' headings above their sections, a lapsed notice's badges, a rule's detail page."""
    from assistant import Assistant
    from web.app import create_app
    from web.localserver import running

    repo = Path(__file__).resolve().parent.parent
    root = tmp_path_factory.mktemp("a11y-library")
    shutil.copytree(repo / "corpus", root / "corpus")
    for p in (repo / "tests" / "fixtures" / "structures").glob("*.txt"):
        shutil.copy(p, root / "corpus" / p.name)
    with running(create_app(Assistant.load(root / "corpus", root / "index", "chars"))) as url:
        desk = new_page(browser, url, viewport={"width": 1280, "height": 800})
        desk.goto("/lookup")
        assert_accessible(desk, axe_source, "热线查询(多个文件)")
        desk.goto("/lookup?doc=chunfeng-tongzhi")
        assert_accessible(desk, axe_source, "热线查询(按文件筛选,已过期的通知)")
        lookup_search(desk, "公益性岗位补贴多少钱")
        desk.locator('.lk-side button[data-doc="gongyi-banfa"]').click()
        expect(desk.locator(".lk-active")).to_contain_text("文件:")
        assert_accessible(desk, axe_source, "热线查询结果(按文件筛选)")
        desk.goto("/lookup/gongyi-banfa:a5")
        assert_accessible(desk, axe_source, "条目详情(相关细则)")
        desk.context.close()


def test_lookup_and_detail_on_a_narrow_screen(phone: Page, axe_source: str) -> None:
    lookup_search(phone, LOOKUP_QUESTION)
    assert_accessible(phone, axe_source, "热线查询结果(窄屏)")
    phone.goto("/lookup/m10")
    assert_accessible(phone, axe_source, "条目详情(窄屏)")


def test_measure_detail(desk: Page, axe_source: str) -> None:
    desk.goto("/lookup/m7")
    assert_accessible(desk, axe_source, "条目详情")
    lookup_search(desk, LOOKUP_QUESTION)
    desk.locator(".lk-results a[data-nav]").first.click()
    desk.wait_for_url(re.compile(r"\?r="))
    assert_accessible(desk, axe_source, "从结果打开的条目详情")
    desk.goto("/lookup/notice")
    assert_accessible(desk, axe_source, "文件信息")


def test_elder_mode_and_high_contrast_pass_axe_with_text_at_7_to_1(phone: Page, axe_source: str) -> None:
    open_chat(phone)
    phone.click("#elder")
    ask(phone, M3_QUESTION)
    assert_accessible(phone, axe_source, "长辈模式")
    enhanced = run_axe(phone, axe_source, rules=["color-contrast-enhanced"])
    assert not enhanced, f"长辈模式的文字对比度不足 7:1\n{describe(enhanced)}"
    phone.click("#elder")
    phone.emulate_media(contrast="more")
    enhanced = run_axe(phone, axe_source, rules=["color-contrast-enhanced"])
    assert not enhanced, f"prefers-contrast: more 时文字对比度不足 7:1\n{describe(enhanced)}"


# ---- 长辈模式 --------------------------------------------------------------------------------

# The text a citizen reads in an answer, a decline and the chips.
ANSWER_TEXT = [
    ".msg.user .bubble",
    ".msg.bot .card-title",
    ".msg.bot .key-text",
    ".msg.bot .quote",
    ".msg.bot .foot",
    ".msg.bot .call-text",
    ".quick-chip",
    "#q",
]
# What a finger presses.
# (In 长辈模式 the phone is the bar under the conversation, not a second button in each answer.)
TAP_TARGETS = ["#elder", "#clear", "#q", "#send", ".quick-chip", ".msg.bot button.more", ".msg.bot .fb-btn",
               ".call-bar"]  # fmt: skip


def font_sizes(page: Page, selector: str) -> list[float]:
    return page.locator(selector).evaluate_all("els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")


def test_elder_mode_text_is_20px_and_targets_48px(phone: Page) -> None:
    open_chat(phone)
    ask(phone, M3_QUESTION)
    assert max(font_sizes(phone, ".msg.bot .key-text")) < 20  # the ordinary chat is smaller
    toggle = phone.locator("#elder")
    expect(toggle).to_have_accessible_name("长辈模式")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_have_accessible_name("长辈模式")  # the tick is not read out
    phone.locator('.card[data-id="m3"] button.more').click()  # the quote, open, in large type too
    for selector in ANSWER_TEXT:
        sizes = font_sizes(phone, selector)
        assert sizes, selector
        assert min(sizes) >= 20, f"{selector}: {sizes}"
    # No text anywhere in the conversation below 18 px (labels such as 责任单位, 第3条).
    small = phone.evaluate(
        """() => [...document.querySelectorAll('#log *, .composer *')]
            .filter(e => e.checkVisibility() && [...e.childNodes].some(n => n.nodeType === 3 && n.data.trim()))
            .filter(e => parseFloat(getComputedStyle(e).fontSize) < 18)
            .map(e => `${e.className || e.tagName} ${getComputedStyle(e).fontSize}`)"""
    )
    assert small == []
    for selector in TAP_TARGETS:
        boxes = [phone.locator(selector).nth(i).bounding_box() for i in range(phone.locator(selector).count())]
        assert boxes, selector
        for box in boxes:
            assert box and box["height"] >= 48 and box["width"] >= 48, f"{selector}: {box}"


def test_elder_mode_keeps_the_phone_in_view_and_the_highlight_first(phone: Page) -> None:
    open_chat(phone)
    call_bar = phone.locator(".call-bar")
    expect(call_bar).to_be_hidden()  # the ordinary chat has the phone in each answer
    phone.click("#elder")
    expect(call_bar).to_have_attribute("href", TEL)
    expect(call_bar).to_contain_text(PHONE)
    phone.locator('.group-chip[data-group="退役军人"]').click()  # a long answer: several measures
    expect(phone.locator(".msg.bot").last.locator(".card").first).to_be_visible()
    for where in ("0", "log.scrollHeight"):
        phone.evaluate(f"() => {{ const log = document.getElementById('log'); log.scrollTop = {where}; }}")
        expect(call_bar).to_be_in_viewport(ratio=1)
    card = phone.locator(".msg.bot").last.locator(".card").first
    expect(card.locator(".key")).to_be_visible()
    expect(card.locator(".quote")).to_be_hidden()  # the full quote stays folded until asked for
    last = phone.locator(".msg.bot").last
    expect(last.locator(".intro")).to_contain_text("您属于“退役军人”")  # the group line stays (issue 23)
    expect(last.locator(".lead")).to_be_hidden()  # no 「根据《…》…如下」 before the key sentences


def test_elder_mode_survives_a_reload_and_is_set_before_the_page_is_drawn(phone: Page) -> None:
    open_chat(phone)
    phone.click("#elder")
    assert phone.evaluate(f"() => localStorage.getItem('{ELDER_KEY}')") == "1"
    # Record, as the <body> element appears, whether html.elder is already set: elder.js runs in <head>.
    phone.add_init_script(
        """new MutationObserver((_, obs) => {
             if (document.body) { window.elderAtBody = document.documentElement.classList.contains('elder'); obs.disconnect(); }
           }).observe(document, {childList: true, subtree: true});"""
    )
    phone.reload()
    phone.wait_for_selector("body[data-ready]")
    assert phone.evaluate("() => window.elderAtBody") is True
    expect(phone.locator("html")).to_have_class(re.compile(r"\belder\b"))
    expect(phone.locator("#elder")).to_have_attribute("aria-pressed", "true")
    phone.goto("/privacy")  # the privacy page follows the mode
    expect(phone.locator("html")).to_have_class(re.compile(r"\belder\b"))
    phone.goto("/")
    phone.wait_for_selector("body[data-ready]")
    phone.click("#elder")
    expect(phone.locator("html")).not_to_have_class(re.compile(r"\belder\b"))
    phone.reload()
    phone.wait_for_selector("body[data-ready]")
    expect(phone.locator("#elder")).to_have_attribute("aria-pressed", "false")
    assert phone.evaluate(f"() => localStorage.getItem('{ELDER_KEY}')") is None


def test_elder_mode_at_320px_needs_no_sideways_scrolling(browser: Browser, base_url: str) -> None:
    page = new_page(browser, base_url, viewport={"width": 320, "height": 568}, is_mobile=True, has_touch=True)
    try:
        open_chat(page)
        page.click("#elder")
        page.locator('.group-chip[data-group="退役军人"]').click()  # several measures in one answer
        expect(page.locator(".msg.bot").last.locator(".card").first).to_be_visible()
        ask(page, M3_QUESTION)
        page.locator('.card[data-id="m3"] button.more').click()
        ask(page, DECLINED)
        page.locator(".msg.bot").last.locator(".fb-no").click()  # the comment box opens
        expect(page.locator(".msg.bot").last.locator(".fb-comment")).to_be_visible()
        page.locator(".quick-chip").first.click()
        expect(page.locator(".quick")).to_have_count(1)
        sizes = page.evaluate(
            """() => ({doc: document.scrollingElement.scrollWidth,
                      log: document.getElementById('log').scrollWidth - document.getElementById('log').clientWidth,
                      right: Math.max(...[...document.querySelectorAll('body *')]
                        .filter(e => e.checkVisibility()).map(e => e.getBoundingClientRect().right))})"""
        )
        assert sizes["doc"] <= 320 and sizes["log"] <= 0 and sizes["right"] <= 320.5, sizes
        expect(page.locator(".call-bar")).to_be_in_viewport(ratio=1)
    finally:
        page.context.close()


# ---- keyboard and screen readers --------------------------------------------------------------


def tab_until(page: Page, selector: str, limit: int = 12) -> None:
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("e => e === document.activeElement"):
            return
    raise AssertionError(f"{limit} 次 Tab 没有到达 {selector}")


def test_keyboard_only_ask_then_reach_the_answer_and_its_phone(desk: Page) -> None:
    open_chat(desk)
    desk.keyboard.press("Tab")
    skip = desk.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # visible while focused
    desk.keyboard.press("Enter")
    expect(desk.locator("#q")).to_be_focused()
    desk.keyboard.type(M3_QUESTION)
    desk.keyboard.press("Enter")
    answer = desk.locator(".msg.bot:not(.pending)").last
    expect(answer.locator('.card[data-id="m3"]')).to_be_visible()
    expect(desk.locator("#q")).to_be_focused()  # typing is never interrupted
    announced = desk.locator("#announce")
    expect(announced).to_contain_text("助手答复")
    expect(announced).to_contain_text("100元")
    desk.keyboard.press("Tab")  # 发送 is disabled on an empty box: next is 跳到最新答复
    expect(desk.locator("#to-answer")).to_be_focused()
    desk.keyboard.press("Enter")
    expect(answer).to_be_focused()
    tab_until(desk, ".msg.bot >> nth=-1 >> a.call")
    expect(desk.locator(":focus")).to_have_attribute("href", TEL)
    expect(desk.locator(":focus")).to_contain_text(PHONE)


def test_keyboard_opens_the_quote_follows_a_chip_and_clears(desk: Page) -> None:
    open_chat(desk)
    ask(desk, M3_QUESTION)
    more = desk.locator('.card[data-id="m3"] button.more')
    more.focus()
    desk.keyboard.press("Enter")
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(desk.locator('.card[data-id="m3"] .quote')).to_be_visible()
    desk.keyboard.press("Space")
    expect(more).to_have_attribute("aria-expanded", "false")
    # A chip from the keyboard: the chip disappears, focus goes to the question and then the answer.
    chip = desk.locator(".quick-chip").first
    chip.focus()
    answered = desk.locator(".msg.bot:not(.pending)").count()
    desk.keyboard.press("Enter")
    expect(desk.locator(".msg.bot:not(.pending)")).to_have_count(answered + 1)
    expect(desk.locator(".msg.bot").last).to_be_focused()
    # 清空 from the keyboard hides itself; focus carries on in the question box.
    desk.locator("#clear").focus()
    desk.keyboard.press("Enter")
    expect(desk.locator(".msg.user")).to_have_count(0)
    expect(desk.locator("#q")).to_be_focused()


def test_focus_stays_in_the_question_box_after_pressing_send(desk: Page) -> None:
    open_chat(desk)
    desk.fill("#q", M3_QUESTION)
    desk.click("#send")
    expect(desk.locator("#q")).to_be_focused()
    expect(desk.locator('.card[data-id="m3"]')).to_be_visible()
    expect(desk.locator("#q")).to_be_focused()  # the answer does not take the focus from the box
    expect(desk.locator("#announce")).to_contain_text("100元")


def test_the_conversation_is_a_list_with_named_controls(phone: Page) -> None:
    open_chat(phone)
    ask(phone, M3_QUESTION)
    ask(phone, DECLINED)
    thread = phone.get_by_role("list").filter(has=phone.locator("#welcome"))  # the <ol> of messages
    expect(thread).to_have_count(1)
    items = phone.locator("#thread > li")
    expect(items).to_have_count(5)  # welcome, question, answer, question, decline
    expect(phone.get_by_role("main")).to_have_count(1)
    expect(phone.get_by_role("region", name="对话记录")).to_be_visible()
    expect(phone.get_by_role("heading", level=1)).to_have_text("城阳就业政策咨询")
    expect(items.nth(1)).to_contain_text("您的提问:")  # who speaks, for a screen reader
    expect(items.nth(2)).to_contain_text("助手:")
    expect(phone.get_by_role("group", name="您可能还想了解:")).to_be_visible()
    expect(phone.get_by_role("button", name="清空对话")).to_be_visible()
    expect(phone.get_by_role("link", name=re.compile(PHONE)).first).to_be_visible()
    for chip in phone.locator(".quick-chip").all():
        assert (chip.text_content() or "").strip()
    live = phone.locator("#announce")
    expect(live).to_have_attribute("aria-live", "polite")
    expect(live).to_contain_text("助手答复")


def test_reduced_motion_stops_the_typing_dots(phone: Page) -> None:
    open_chat(phone)
    phone.route("**/api/ask", lambda route: None)  # never answered: the dots stay
    phone.fill("#q", M3_QUESTION)
    phone.press("#q", "Enter")
    dots = phone.locator(".typing i").first
    expect(dots).to_be_visible()
    assert dots.evaluate("e => getComputedStyle(e).animationName") == "blink"
    phone.emulate_media(reduced_motion="reduce")
    assert dots.evaluate("e => getComputedStyle(e).animationName") == "none"
