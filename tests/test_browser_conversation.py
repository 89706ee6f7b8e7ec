"""The conversation in headless Chromium (issue 8): the key sentence without expanding, a
follow-up that remembers the previous answer, and the "我是…" chips."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import Browser, Page, expect

from assistant import Assistant

pytestmark = [pytest.mark.browser]
DISTRICT = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def phone(browser: Browser, base_url: str) -> Iterator[Page]:
    ctx = browser.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    page.goto("/")
    page.wait_for_selector("body[data-ready]")
    yield page
    ctx.close()


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


def test_rider_question_shows_the_100_yuan_sentence_without_expanding(phone: Page) -> None:
    ask(phone, "灵活就业人员意外伤害保险补贴")
    key = phone.locator('.card[data-id="m3"] .key')
    expect(key).to_be_visible()
    expect(key).to_contain_text("每人每年不高于100元标准给予意外伤害保险补贴")
    assert phone.locator('.card[data-id="m3"] button.more').get_attribute("aria-expanded") == "false"


def test_which_department_after_the_tax_answer_names_the_tax_bureau(phone: Page) -> None:
    ask(phone, "重点群体就业创业税收优惠政策")
    expect(phone.locator('.msg.bot .card[data-id="m7"]').last).to_be_visible()
    ask(phone, "那找哪个部门?")
    last = phone.locator(".msg.bot").last
    expect(last.locator(".keylines")).to_contain_text("城阳区税务局")
    expect(last.locator('.card[data-id="m7"]')).to_be_visible()


def test_the_veterans_chip_lists_the_veterans_measures(phone: Page, chars_assistant: Assistant) -> None:
    veterans = chars_assistant.groups.get("退役军人")
    assert veterans is not None
    phone.locator('.group-chip[data-group="退役军人"]').click()
    last = phone.locator(".msg.bot").last
    expect(last.locator(".card")).to_have_count(len(veterans.measures))
    ids = last.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.id)")
    assert sorted(ids) == sorted(veterans.measures)
    expect(phone.locator(".msg.user .bubble").last).to_contain_text("我是退役军人")


def test_clearing_the_chat_forgets_the_context(phone: Page) -> None:
    ask(phone, "重点群体就业创业税收优惠政策")
    phone.click("#clear")
    ask(phone, "那找哪个部门?")
    expect(phone.locator(".msg.bot").last).to_contain_text("哪一项")
    expect(phone.locator(".msg.bot").last.locator(".card")).to_have_count(0)


def test_the_privacy_notice_says_questions_are_stored_before_the_first_question(phone: Page) -> None:
    notice = phone.locator("#privacy-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("保存在服务器上")
    expect(notice).to_contain_text("180 天")
    expect(phone.locator(".topbar")).to_contain_text("2024年7月16日印发")
    phone.locator("#privacy-notice a[href='/privacy']").click()
    expect(phone.locator("h1")).to_have_text("隐私说明")
    expect(phone.locator("main")).to_contain_text("180 天")


def test_a_passed_deadline_is_tagged_on_its_sentence_not_on_the_measure(phone: Page, chars_assistant: Assistant) -> None:
    (deadline,) = chars_assistant.chunk("m7").deadlines
    with time_machine.travel(dt.datetime.combine(deadline.date + dt.timedelta(days=1), dt.time(8), DISTRICT)):
        ask(phone, "第7条")  # cited by number: the whole measure, most of which states no end
        card = phone.locator('.msg.bot .card[data-id="m7"]').last
        expect(card.locator(".badge.expired")).to_have_count(0)
        expect(card.locator(".quote .lapsed-tag")).to_have_text("已到期")
        expect(card.locator(".notes")).to_contain_text(f"“{deadline.sentence.rstrip('。')}”所述期限已过")
        ask(phone, "第3条")
        expect(phone.locator('.msg.bot .card[data-id="m3"] .lapsed-tag')).to_have_count(0)


def test_another_city_is_declined_and_qingdao_is_answered_with_a_note(phone: Page) -> None:
    ask(phone, "广州灵活就业补贴标准")
    decline = phone.locator(".msg.bot").last
    expect(decline).to_contain_text("广州")
    expect(decline).to_contain_text("青岛市城阳区")
    expect(decline.locator(".card")).to_have_count(0)
    ask(phone, "青岛灵活就业人员意外伤害保险补贴")
    answer = phone.locator(".msg.bot").last
    expect(answer.locator('.card[data-id="m3"]')).to_be_visible()
    expect(answer).to_contain_text("您问到“青岛”")


def test_a_declined_neighbouring_service_names_where_to_go(phone: Page) -> None:
    ask(phone, "社保卡怎么办")
    expect(phone.locator(".msg.bot").last).to_contain_text("12333")
