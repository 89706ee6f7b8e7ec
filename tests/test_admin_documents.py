"""/admin/documents over HTTP (issue 21): upload → preview → publish → the chat quotes it; withdraw → 已废止;
hostile uploads refused with a clear message; CSRF and sign-in required; every action in the audit trail."""

from __future__ import annotations

import io
import re
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.publishing.upload import MAX_EXPANDED_BYTES
from web.app import create_app
from web.settings import WebSettings

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "tests" / "fixtures" / "structures" / "chuangye-zhinan.txt"
TOKEN = "s3cret-admin-token-for-documents-01"
QUESTION = "一次性创业补贴需要哪些申请材料"


@pytest.fixture
def site(chars_assistant: Assistant, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    library = tmp_path / "library"
    shutil.copytree(REPO / "corpus", library)
    settings = WebSettings(data_dir=tmp_path / "data", rate_limit=None, admin_token=TOKEN, library_dir=library,
                           releases_dir=tmp_path / "releases")  # fmt: skip
    with TestClient(create_app(chars_assistant, settings)) as client:
        page = client.get("/admin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]  # type: ignore[index]
        assert (
            client.post("/admin/login", data={"token": TOKEN, "csrf": csrf}, follow_redirects=False).status_code == 303
        )
        yield client, library


def csrf_of(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/documents").text)[1]  # type: ignore[index]


def upload(client: TestClient, data: bytes, name: str, doc_id: str = "") -> Any:
    return client.post("/admin/documents/upload", data={"csrf": csrf_of(client), "doc_id": doc_id},
                       files={"file": (name, data, "application/octet-stream")}, follow_redirects=False)  # fmt: skip


def answer_until(client: TestClient, question: str, wanted: str, timeout: float = 30.0) -> dict[str, Any]:
    """Ask until the answer contains `wanted` (the replica swaps to a new version within seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.post("/api/ask", json={"question": question}).json()
        if wanted in body["answer"] or time.monotonic() > deadline:
            return body
        time.sleep(0.3)


def outside_files(root: Path) -> set[Path]:
    """Files next to the library (but not the question log's data folder, which the pages themselves write)."""
    return {
        p
        for p in root.parent.rglob("*")
        if p.is_file() and p.relative_to(root.parent).parts[0] not in ("library", "data")
    }


def test_upload_preview_publish_then_the_chat_quotes_it_and_withdraw_shows_it_repealed(site) -> None:  # type: ignore[no-untyped-def]
    client, library = site
    before = client.post("/api/ask", json={"question": QUESTION}).json()
    assert "办事指南" not in before["answer"]

    resp = upload(client, GUIDE.read_bytes(), "../../etc/创业补贴指南.txt", "chuangye")
    assert resp.status_code == 303
    preview = client.get(resp.headers["location"])
    assert preview.status_code == 200
    # Every chunk with its label, and the metadata read (the guide's own phone) in the correction form.
    for label in ("申请材料", "办理时限", "咨询电话"):
        assert f'<span class="doc-label">{label}' in preview.text
    assert 'value="0532-87869876"' in preview.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', preview.text)[1]  # type: ignore[index]
    form = {"csrf": csrf, "doc_id": "chuangye", "title": "一次性创业补贴申领办事指南（示例）", "number": "城人社字〔2025〕7号",
            "phone": "0532-87869876", "dept": "", "effective": "", "expires": "", "implements": "", "status": "现行"}  # fmt: skip
    done = client.post(resp.headers["location"], data={**form, "action": "publish"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/admin/documents?done=publish"
    assert (library / "chuangye.txt").exists()
    assert "number" in (library / "chuangye.txt.meta.toml").read_text(encoding="utf-8")  # only the correction

    body = answer_until(client, QUESTION, "一次性创业补贴申领办事指南")
    assert any(m["id"].startswith("chuangye:") for m in body["measures"])
    assert "0532-87869876" in body["answer"] and "申请人身份证" in body["answer"]

    page = client.get("/admin/documents").text
    row = re.search(r'<tr data-doc="chuangye">(.*?)</tr>', page, re.DOTALL)[1]  # type: ignore[index]
    assert "城人社字〔2025〕7号" in row and "现行" in row and "办事指南" in row
    quotes = re.findall(r'<td class="num">(\d+)</td>', row)[-1]  # chunks, then quotes in the last 30 days
    assert int(quotes) >= 1  # the questions above quoted it
    assert "发布" in page and "管理员" in page  # the audit trail names the action and who

    withdrawn = client.post("/admin/documents/chuangye/withdraw", data={"csrf": csrf_of(client), "superseded_by": ""},
                            follow_redirects=False)  # fmt: skip
    assert withdrawn.status_code == 303
    assert served_status(client, "chuangye", "已废止")
    row = re.search(r'<tr data-doc="chuangye">(.*?)</tr>', client.get("/admin/documents").text, re.DOTALL)[1]  # type: ignore[index]
    assert "已废止" in row
    repealed_answer = client.post("/api/ask", json={"question": QUESTION}).json()["answer"]

    undone = client.post("/admin/documents/chuangye/undo", data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert undone.status_code == 303
    assert served_status(client, "chuangye", "现行")
    assert "已废止" not in client.post("/api/ask", json={"question": QUESTION}).json()["answer"]
    assert "已废止" in repealed_answer  # every quote from the withdrawn guide carries the note


def served_status(client: TestClient, doc_id: str, status: str, timeout: float = 30.0) -> bool:
    """Whether the replica comes to serve `doc_id` with `status` (it swaps versions within seconds)."""
    import datetime as dt

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.get("/healthz")  # any request lets the replica notice a new version
        doc = client.app.state.assistant.corpus.document(doc_id)  # type: ignore[attr-defined]
        if doc is not None and doc.meta.status(dt.date.today()) == status:
            return True
        time.sleep(0.2)
    return False


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "status", "message"),
    [
        (
            zip_bytes({"[Content_Types].xml": b"", "word/document.xml": b"", "pad": b"\0" * (MAX_EXPANDED_BYTES + 1)}),
            "指南.docx",
            422,
            "压缩炸弹",
        ),
        (b"<!DOCTYPE html><html><body>notice</body></html>", "通知.pdf", 422, "内容却是网页"),
        (b"a" * (50 * 1024 * 1024), "big.txt", 413, "不能超过 10 MB"),
    ],
)
def test_hostile_uploads_are_refused_with_a_clear_message_and_nothing_is_written(
    site, data, name, status, message
) -> None:  # type: ignore[no-untyped-def]
    client, library = site
    outside = outside_files(library)
    resp = upload(client, data, f"../../{name}")
    assert resp.status_code == status
    assert message in resp.text
    assert outside_files(library) == outside
    assert (
        not [p for p in (library / ".staging").rglob("*") if p.is_file()] if (library / ".staging").exists() else True
    )
    assert sorted(p.name for p in library.iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in (REPO / "corpus").iterdir()
    )


def test_without_csrf_or_sign_in_nothing_changes(site, chars_assistant: Assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, library = site
    resp = client.post(
        "/admin/documents/upload", data={"csrf": "forged"}, files={"file": ("a.txt", GUIDE.read_bytes())}
    )
    assert resp.status_code == 403
    assert client.post("/admin/documents/x/delete", data={"csrf": "forged"}).status_code == 403
    stranger = TestClient(client.app)
    assert stranger.post("/admin/documents/x/delete", data={"csrf": "x"}).status_code == 401
    assert "token" in stranger.get("/admin/documents").text  # the sign-in form, not the list
    assert not (library / ".staging").exists() or not any((library / ".staging").iterdir())


def test_a_document_that_cannot_be_read_is_listed_as_such(site) -> None:  # type: ignore[no-untyped-def]
    client, library = site
    (library / "broken.txt").write_text("\n\n", encoding="utf-8")
    row = re.search(r'<tr data-doc="broken">(.*?)</tr>', client.get("/admin/documents").text, re.DOTALL)[1]  # type: ignore[index]
    assert "未能读取" in row and "文件为空" in row


def test_a_failed_build_keeps_the_previous_version_serving_and_the_page_says_why(site, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from assistant.publishing import releases

    client, _library = site

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "磁盘空间不足")

    monkeypatch.setattr(releases, "build_index", disk_full)
    before = client.app.state.assistant  # type: ignore[attr-defined]
    resp = upload(client, GUIDE.read_bytes(), "guide.txt", "chuangye")
    preview = client.get(resp.headers["location"])
    csrf = re.search(r'name="csrf" value="([^"]+)"', preview.text)[1]  # type: ignore[index]
    client.post(resp.headers["location"], data={"csrf": csrf, "doc_id": "chuangye", "action": "publish"})
    client.app.state.library.publisher.join()  # type: ignore[attr-defined]
    page = client.get("/admin/documents").text
    status = re.search(r'<section[^>]*id="build-status"[^>]*>(.*?)</section>', page, re.DOTALL)[1]  # type: ignore[index]
    assert "更新失败" in status and "磁盘空间不足" in status
    history = re.search(r'<table[^>]*id="history"[^>]*>(.*?)</table>', page, re.DOTALL)[1]  # type: ignore[index]
    assert "索引更新失败" in history and "磁盘空间不足" in history
    # Questions are still answered, by the version that was serving.
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
    assert client.app.state.assistant is before  # type: ignore[attr-defined]
