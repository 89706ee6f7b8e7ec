"""The hotline lookup in headless Chromium after issue 11: Back, forward, reload and Esc return to the
same results (POST → 303 → GET /lookup/r/<id>, no resubmission prompt, no question in the URL), the
chat's decline shown as a banner, and the expiry badge (已过期, or 部分已到期 when only one sentence has passed).
Over a library (issue 20): the 文件 filter, a document's own sections, and the copied answer with its phone.

Marked `browser`: without /usr/bin/chromium these skip, except on CI (tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi import FastAPI
from playwright.sync_api import Browser, Dialog, Page, expect

from assistant import Assistant
from web.app import create_app
from web.localserver import running

pytestmark = [pytest.mark.browser]

QUESTION = "退役军人创业"
RESULT_URL = re.compile(r"/lookup/r/[A-Za-z0-9_-]{16}$")


@pytest.fixture(scope="module")
def app(chars_assistant: Assistant) -> FastAPI:
    return create_app(chars_assistant)


@pytest.fixture(scope="module")
def base_url(app: FastAPI) -> Iterator[str]:
    with running(app) as url:
        yield url


class Watch:
    """Dialogs, failed navigations and script errors of one page: a resubmission prompt or an
    ERR_CACHE_MISS page after Back would show up here."""

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def desk(browser: Browser, base_url: str) -> Iterator[tuple[Page, Watch]]:
    ctx = browser.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    yield page, Watch(page)
    ctx.close()


def search(page: Page, question: str) -> str:
    page.goto("/lookup")
    page.fill("#q", question)
    with page.expect_navigation():
        page.press("#q", "Enter")
    page.wait_for_url(RESULT_URL)
    expect(page.locator(".lk-results")).to_be_visible()
    return page.url


def result_ids(page: Page) -> list[str]:
    ids: list[str] = page.locator(".lk-results .lk-card").evaluate_all("els => els.map(e => e.dataset.id)")
    return ids


def test_back_forward_and_reload_return_to_the_same_results_without_resubmitting(desk: tuple[Page, Watch]) -> None:
    page, watch = desk
    results_url = search(page, QUESTION)
    assert QUESTION not in page.url and "%E9%80%80" not in page.url  # 退 in any spelling
    ids = result_ids(page)
    assert ids and ids[0] == "m10"

    page.locator(".lk-results .lk-card-link").first.click()
    page.wait_for_url(re.compile(r"/lookup/m10\?r=[A-Za-z0-9_-]{16}$"))
    expect(page.locator("h1")).to_contain_text("第10条")
    expect(page.locator("#q")).to_have_value(QUESTION)  # the detail page keeps the question in view

    back = page.go_back()
    assert page.url == results_url
    assert back is None or back.status == 200  # None: restored from the back-forward cache
    expect(page.locator(".lk-results h2")).to_contain_text(QUESTION)
    assert result_ids(page) == ids

    page.go_forward()
    page.wait_for_url(re.compile(r"/lookup/m10\?r="))
    page.go_back()
    assert page.url == results_url

    reloaded = page.reload()
    assert reloaded is not None and reloaded.status == 200
    assert result_ids(page) == ids
    for url in (results_url, page.url):
        assert QUESTION not in url
    assert watch.dialogs == []
    assert watch.errors == []


def test_escape_on_the_detail_page_returns_to_the_results(desk: tuple[Page, Watch]) -> None:
    page, watch = desk
    results_url = search(page, QUESTION)
    ids = result_ids(page)
    page.locator(".lk-results .lk-card-link").first.click()
    page.wait_for_url(re.compile(r"/lookup/m10\?r="))
    page.keyboard.press("ArrowRight")  # next measure: the way back is kept
    page.wait_for_url(re.compile(r"/lookup/m11\?r="))
    page.keyboard.press("Escape")
    page.wait_for_url(results_url)
    assert result_ids(page) == ids
    expect(page.locator(".lk-results h2")).to_contain_text(QUESTION)
    assert watch.errors == []


def test_filters_on_the_results_keep_back_working(desk: tuple[Page, Watch]) -> None:
    page, watch = desk
    results_url = search(page, QUESTION)
    page.locator('.lk-side button[data-unit="区退役军人事务局"]').click()
    page.wait_for_url(lambda url: url != results_url and bool(RESULT_URL.search(url)))
    expect(page.locator(".lk-active")).to_contain_text("区退役军人事务局")
    assert set(result_ids(page)) <= {"m10", "m18"}
    page.go_back()
    assert page.url == results_url
    expect(page.locator(".lk-active")).to_have_count(0)
    assert watch.dialogs == [] and watch.errors == []


def test_an_off_topic_lookup_shows_the_decline_banner(desk: tuple[Page, Watch]) -> None:
    page, _ = desk
    search(page, "城阳哪家火锅好吃")
    banner = page.locator(".lk-decline")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("文件未涉及")
    expect(banner.locator("a[href='tel:0532-58659939']")).to_be_visible()
    expect(page.locator(".lk-results .lk-card.matched")).to_have_count(0)
    # Weak hits stay folded until asked for.
    weak = page.locator(".lk-weak .lk-card")
    assert weak.count() > 0
    expect(weak.first).to_be_hidden()
    page.get_by_text(f"显示其他弱相关条目({weak.count()})").click()
    expect(weak.first).to_be_visible()


def test_the_expiry_badge_follows_the_sentence_in_the_lookup(desk: tuple[Page, Watch], chars_assistant: Assistant) -> None:
    (deadline,) = chars_assistant.chunk("m7").deadlines
    page, _ = desk
    after = dt.datetime.combine(deadline.date + dt.timedelta(days=3), dt.time(9), ZoneInfo("Asia/Shanghai"))
    with time_machine.travel(after):
        page.goto("/lookup")
        # The whole of 第7条 is listed, and only its tax sentence has passed.
        badge = page.locator('.lk-all .lk-card[data-id="m7"] .badge-expired')
        expect(badge).to_have_text("部分已到期")
        assert deadline.sentence.rstrip("。") in (badge.get_attribute("title") or "")
        expect(page.locator('.lk-all .lk-card[data-id="m3"] .badge-expired')).to_have_count(0)
        search(page, "重点群体就业创业税收优惠政策")  # answered by that very sentence
        expect(page.locator('.lk-results .lk-card[data-id="m7"] .badge-expired')).to_have_text("已过期")


def test_a_search_this_tab_made_is_rerun_when_the_server_forgot_its_id(desk: tuple[Page, Watch], app: FastAPI) -> None:
    page, _ = desk
    results_url = search(page, QUESTION)
    ids = result_ids(page)
    app.state.lookup_store.forget_all()  # expired, or a store that was reset
    page.reload()
    page.wait_for_url(lambda url: url != results_url and bool(RESULT_URL.search(url)))
    expect(page.locator(".lk-results h2")).to_contain_text(QUESTION)
    assert result_ids(page) == ids
    # A fresh tab has no such memory: it says the search expired.
    other = page.context.browser.new_context(base_url=page.url.split("/lookup")[0]).new_page()  # type: ignore[union-attr]
    other.goto(results_url)
    expect(other.locator(".lk-notice")).to_have_text("检索已过期,请重新检索")
    other.context.close()


# ---- a library of documents: the 文件 filter ----------------------------------------------------

RULE = "gongyi-banfa"  # tests/fixtures/structures: a 办法 with 章 and 条 and its own phone


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Assistant]]:
    """The repo's corpus plus the structure fixtures, served on a loopback port."""
    repo = Path(__file__).resolve().parent.parent
    root = tmp_path_factory.mktemp("browser-library")
    shutil.copytree(repo / "corpus", root / "corpus")
    for p in (repo / "tests" / "fixtures" / "structures").glob("*.txt"):
        shutil.copy(p, root / "corpus" / p.name)
    bot = Assistant.load(root / "corpus", root / "index", "chars")
    with running(create_app(bot)) as url:
        yield url, bot


def test_the_document_filter_narrows_searches_and_copies_the_documents_phone(
    browser: Browser, library: tuple[str, Assistant]
) -> None:
    url, bot = library
    rule = bot.corpus.document(RULE)
    assert rule is not None
    ctx = browser.new_context(
        base_url=url, locale="zh-CN", viewport={"width": 1280, "height": 800}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    watch = Watch(page)
    page.goto("/lookup")
    page.locator(f'.lk-side a[data-doc="{RULE}"]').click()
    page.wait_for_url(re.compile(rf"/lookup\?doc={RULE}$"))  # a plain, shareable link
    expect(page.locator(".lk-active")).to_contain_text(f"文件:《{rule.meta.title}》({rule.meta.number})")
    listed = page.locator(".lk-all .lk-card").evaluate_all("els => els.map(e => e.dataset.id)")
    assert listed == [c.id for c in rule.chunks]
    # Its own 章 as sections.
    chapter = rule.chunks[4].section  # 第五条's chapter
    page.locator(".lk-side a", has_text=chapter).click()
    page.wait_for_url(re.compile(rf"/lookup\?doc={RULE}&section="))
    listed = page.locator(".lk-all .lk-card").evaluate_all("els => els.map(e => e.dataset.id)")
    assert listed == [c.id for c in rule.chunks if c.section == chapter]
    # A search keeps the filters (and the question stays out of the URL).
    page.fill("#q", "公益性岗位补贴多少钱")
    with page.expect_navigation():
        page.press("#q", "Enter")
    page.wait_for_url(RESULT_URL)
    found = result_ids(page)
    assert f"{RULE}:a5" in found and all(i.startswith(f"{RULE}:") for i in found)
    card = page.locator(f'.lk-results .lk-card[data-id="{RULE}:a5"]')
    expect(card.locator(".num")).to_have_text("第五条")
    expect(card.locator(".doc")).to_have_text(f"《{rule.meta.title}》({rule.meta.number})")
    card.locator("button.copy").click()
    expect(card.locator("button.copy")).to_contain_text("已复制")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == bot.answer_for(f"{RULE}:a5").answer and rule.meta.phone in copied
    # Dropping the document drops its section too; the question is searched across the library again.
    before = page.url
    page.locator(".lk-active .lk-pill", has_text="文件").click()
    page.wait_for_url(lambda u: u != before and bool(RESULT_URL.search(u)))
    expect(page.locator(".lk-active")).to_have_count(0)
    assert any(not i.startswith(f"{RULE}:") for i in result_ids(page))
    assert watch.dialogs == [] and watch.errors == []
    ctx.close()
