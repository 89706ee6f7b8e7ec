"""Staff keep the library current from /admin in headless Chromium (issue 21): sign in, upload the fixture 办事指南
.docx, see its chunks and metadata in the preview, publish, ask about it in the chat and get its quote with its title
and phone; withdraw it and see 已废止. Hostile uploads are refused with a clear message and nothing is written outside
the library."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_accessibility import AXE, assert_accessible

from assistant import Assistant
from assistant.publishing.upload import MAX_EXPANDED_BYTES
from web.app import create_app
from web.localserver import running
from web.settings import WebSettings

pytestmark = [pytest.mark.browser]

REPO = Path(__file__).resolve().parent.parent
DOCX = REPO / "tests" / "fixtures" / "library" / "guide-startup-subsidy.docx"
TITLE = "城阳区一次性创业补贴办事指南（示例）"
PHONE = "0532-87865432"
QUESTION = "一次性创业补贴要带哪些申请材料"
TOKEN = "browser-test-admin-token-docs-0001"


@pytest.fixture(scope="module")
def site(chars_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, object]]:
    root = tmp_path_factory.mktemp("docs-site")
    library = root / "library"
    shutil.copytree(REPO / "corpus", library)
    settings = WebSettings(data_dir=root / "data", rate_limit=None, admin_token=TOKEN, library_dir=library,
                           releases_dir=root / "releases")  # fmt: skip
    app = create_app(chars_assistant, settings)
    with running(app) as url:
        yield url, library, app


def new_page(browser: Browser, base_url: str) -> Page:
    ctx = browser.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    return page


def sign_in(page: Page) -> None:
    page.goto("/admin")
    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    expect(page.locator("#fig-total")).to_be_visible()
    page.click("a[href='/admin/documents']")
    expect(page.locator("h1")).to_have_text("政策文件")


def served(app: object, doc_id: str, status: str | None = None, timeout: float = 30.0) -> bool:
    """Whether the site comes to serve `doc_id` (with `status`): it swaps to a published version within seconds."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = app.state.assistant.corpus.document(doc_id)  # type: ignore[attr-defined]
        if doc is not None and (status is None or doc.meta.status(dt.date.today()) == status):
            return True
        httpx.get(f"{app.state.url}/healthz")  # type: ignore[attr-defined]  # a request lets the replica poll
        time.sleep(0.2)
    return False


def ask_in_chat(page: Page, question: str) -> str:
    page.goto("/")
    page.wait_for_selector("body[data-ready]")
    page.fill("#q", question)
    page.press("#q", "Enter")
    answer = page.locator(".msg.bot:not(.pending):not(#welcome)").last
    expect(answer).to_be_visible()
    return answer.inner_text()


def test_upload_preview_publish_ask_withdraw(browser: Browser, site) -> None:  # type: ignore[no-untyped-def]
    url, library, app = site
    app.state.url = url
    page = new_page(browser, url)
    sign_in(page)
    page.set_input_files("#file", str(DOCX))
    page.fill("#doc_id", "startup-guide")
    page.click("text=上传并预览")

    # The preview: every chunk with its label, and the metadata read, ready to correct.
    expect(page.locator("h1")).to_contain_text(TITLE)
    assert_accessible(page, AXE.read_text(encoding="utf-8"), "上传预览")
    chunks = page.locator("#chunks > li")
    expect(chunks.filter(has_text="申请材料").first).to_contain_text("居民身份证原件")
    assert chunks.count() >= 10
    expect(page.locator("#m-phone")).to_have_value(PHONE)
    expect(page.locator("#m-title")).to_have_value(TITLE)
    page.fill("#m-number", "城人社字〔2025〕9号")
    page.click("#publish")
    expect(page.locator("#doc-message")).to_contain_text("已发布")
    row = page.locator("tr[data-doc='startup-guide']")
    expect(row).to_contain_text("城人社字〔2025〕9号")
    expect(row.locator(".doc-status")).to_have_text("现行")
    assert_accessible(page, AXE.read_text(encoding="utf-8"), "文件列表")
    assert (library / "startup-guide.docx").read_bytes() == DOCX.read_bytes()

    assert served(app, "startup-guide")
    chat = new_page(browser, url)
    text = ask_in_chat(chat, QUESTION)
    assert TITLE in text and "申请材料" in text
    # The chat API's answer (what the chat renders from): the quote, with its title and the guide's own phone.
    body = chat.request.post("/api/ask", data={"question": QUESTION}).json()
    assert any(m["id"].startswith("startup-guide:") for m in body["measures"])
    assert TITLE in body["answer"] and PHONE in body["answer"] and "居民身份证原件" in body["answer"]

    page.goto("/admin/documents")
    page.locator("tr[data-doc='startup-guide'] .doc-withdraw").click()
    expect(page.locator("#doc-message")).to_contain_text("已废止")
    expect(page.locator("tr[data-doc='startup-guide'] .doc-status")).to_have_text("已废止")
    expect(page.locator("#history")).to_contain_text("废止")
    assert served(app, "startup-guide", "已废止")
    text = ask_in_chat(chat, QUESTION) + chat.request.post("/api/ask", data={"question": QUESTION}).json()["answer"]
    assert "已废止" in text and TITLE in text


def bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        zf.writestr("word/media/pad.bin", b"\0" * (MAX_EXPANDED_BYTES + 1))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("办事指南.docx", "bomb", "压缩炸弹"),
        ("通知.pdf", "html", "内容却是网页"),
        ("..%2F..%2Fevil.txt", "exe", "不是可读的文字"),
        ("big.txt", "big", "不能超过 10 MB"),
    ],
)
def test_hostile_uploads_are_refused_with_a_clear_message(browser: Browser, site, tmp_path: Path, name: str,
                                                          kind: str, message: str) -> None:  # fmt: skip
    url, library, _app = site
    before = sorted(
        p.relative_to(library.parent) for p in library.parent.rglob("*") if p.is_file() and "data" not in p.parts
    )
    path = tmp_path / name
    if kind == "bomb":
        path.write_bytes(bomb())
    elif kind == "html":
        path.write_bytes("<!DOCTYPE html><html><body><h1>通知</h1></body></html>".encode())
    elif kind == "exe":
        path.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" * 64)
    else:
        with path.open("wb") as fh:
            fh.truncate(50 * 1024 * 1024)  # 50 MB (sparse on disk)
    page = new_page(browser, url)
    sign_in(page)
    page.set_input_files("#file", str(path))
    page.click("text=上传并预览")
    expect(page.locator("body")).to_contain_text(message)
    after = sorted(
        p.relative_to(library.parent) for p in library.parent.rglob("*") if p.is_file() and "data" not in p.parts
    )
    assert [p for p in after if p not in before and ".staging" not in p.parts] == []
    assert (
        not [p for p in (library / ".staging").rglob("*") if p.is_file()] if (library / ".staging").exists() else True
    )
    page.context.close()
