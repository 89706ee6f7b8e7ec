"""Feedback and the staff dashboard in headless Chromium (issue 12): a 没帮助 vote with a comment
is counted on the dashboard; the glossary workbench shows how a phrase is expanded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from assistant import Assistant
from web.app import create_app
from web.localserver import running
from web.settings import WebSettings

pytestmark = [pytest.mark.browser]


TOKEN = "browser-test-admin-token-000001"


@pytest.fixture(scope="module")
def base_url(chars_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = WebSettings(data_dir=tmp_path_factory.mktemp("admin-data"), rate_limit=None, admin_token=TOKEN)
    with running(create_app(chars_assistant, settings)) as url:
        yield url


def new_page(browser: Browser, base_url: str, width: int, height: int) -> Page:
    ctx = browser.new_context(base_url=base_url, locale="zh-CN", viewport={"width": width, "height": height})
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    return page


def sign_in(page: Page) -> None:
    page.goto("/admin")
    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    expect(page.locator("#fig-total")).to_be_visible()


def test_an_unhelpful_vote_with_a_comment_is_counted_on_the_dashboard(browser: Browser, base_url: str) -> None:
    phone = new_page(browser, base_url, 390, 844)
    phone.goto("/")
    phone.wait_for_selector("body[data-ready]")
    phone.fill("#q", "灵活就业人员意外伤害保险补贴")
    phone.press("#q", "Enter")
    answer = phone.locator(".msg.bot:not(.pending)").last
    expect(answer.locator(".fb-no")).to_be_visible()
    answer.locator(".fb-no").click()
    expect(answer.locator(".fb-no")).to_have_attribute("aria-pressed", "true")
    answer.locator(".fb-text").fill("没说骑手去哪里申请")
    answer.locator(".fb-submit").click()
    expect(answer.locator(".fb-status")).to_contain_text("感谢")
    expect(answer.locator(".fb-comment")).to_be_hidden()
    phone.context.close()

    desk = new_page(browser, base_url, 1366, 900)
    sign_in(desk)
    expect(desk.locator("#fig-helpful")).to_contain_text("0 有帮助 / 1 没帮助")
    unhelpful = desk.locator("#unhelpful")
    expect(unhelpful).to_contain_text("灵活就业人员意外伤害保险补贴")
    expect(unhelpful).to_contain_text("没说骑手去哪里申请")
    expect(unhelpful.locator(".chip").first).to_contain_text("第3条")
    # The dashboard fits the desktop width: nothing scrolls sideways.
    assert desk.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    desk.context.close()


def test_the_glossary_workbench_shows_a_phrases_expansion(
    browser: Browser, base_url: str, chars_assistant: Assistant
) -> None:
    page = new_page(browser, base_url, 390, 844)  # on a phone
    sign_in(page)
    page.click("a[href='/admin/glossary']")
    page.fill("#q", "送外卖的有没有保险补贴")
    page.press("#q", "Enter")
    expansion = chars_assistant.lexicon.expand("送外卖的有没有保险补贴")
    found, terms = expansion.glossary[0]
    expect(page.locator("#exp-glossary")).to_contain_text(f"{found} → {'、'.join(terms)}")
    expect(page.locator("#exp-text")).to_have_text(expansion.text)
    expect(page.locator("#hits tbody tr").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.context.close()


def test_admin_pages_pass_axe(browser: Browser, base_url: str) -> None:
    # The same check as every citizen and hotline page (tests/test_accessibility.py).
    from test_accessibility import assert_accessible

    source = (Path(__file__).resolve().parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
    desk = new_page(browser, base_url, 1366, 900)
    desk.goto("/admin")
    assert_accessible(desk, source, "管理后台登录页")
    sign_in(desk)
    assert_accessible(desk, source, "管理后台")
    desk.goto("/admin/glossary")
    assert_accessible(desk, source, "词表工作台")
    desk.context.close()
