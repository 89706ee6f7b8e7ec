"""/admin/documents: staff keep the policy library current (issue 21) — list, upload → preview → publish, withdraw,
delete, undo. Behind the /admin sign-in (web/admin.py's session and CSRF helpers); the library work is
assistant/publishing, this module only translates between forms and it.

Publishing writes the library folder and asks the `Publisher` for a new version; the build runs in the background and
every replica (this one included) swaps to it (web/library_live.py). Questions meanwhile are answered by the version
already loaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from assistant.documents.library import today
from assistant.documents.model import Corpus, Document
from assistant.errors import PolicyAssistantError
from assistant.publishing import releases as rel
from assistant.publishing.library import EDITABLE, LibraryError, check_doc_id, corrections_sidecar
from assistant.publishing.upload import MAX_UPLOAD_BYTES, UploadRefused
from assistant.store.audit import AuditEntry, history, quotes_by_document

from . import admin
from .deps import templates
from .errors import error_page
from .library_live import LibraryDesk, audit
from .ratelimit import client_ip

log = logging.getLogger("policy_assistant.web")

router = APIRouter(include_in_schema=False)

UPLOAD_PATH = "/admin/documents/upload"
# The multipart envelope around the file: boundaries, headers, the CSRF and id fields.
UPLOAD_SLACK = 64 * 1024
ACTIONS = {"publish": "发布", "withdraw": "废止", "delete": "删除", "undo": "撤销", "build_failed": "索引更新失败"}
STATUS_CLASS = {"现行": "st-ok", "已过期": "st-warn", "已废止": "st-off", "未能读取": "st-bad"}


def _desk(request: Request) -> LibraryDesk:
    admin._auth(request)  # 404 when /admin does not exist
    desk: LibraryDesk | None = request.app.state.library
    if desk is None:
        raise HTTPException(404)
    return desk


def _actor(request: Request, nonce: str) -> str:
    client = client_ip(request.scope, request.app.state.settings.trusted_proxies)
    # A short hash of the session's nonce tells sessions apart in the trail without being usable for anything.
    session = hashlib.sha256(nonce.encode("utf-8")).hexdigest()[:8]
    return f"管理员(会话 {session},来自 {client})"


# ---- the list -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    doc_id: str
    title: str
    number: str
    structure: str
    chunks: int
    effective: str
    expires: str
    status: str
    quotes: int
    file: str
    primary: bool
    undoable: bool
    warnings: tuple[str, ...]


def _date(d: dt.date | None) -> str:
    return d.isoformat() if d else ""


def document_rows(desk: LibraryDesk, corpus: Corpus, quotes: dict[str, int]) -> list[Row]:
    day = today()
    rows = []
    for doc in corpus.documents:
        m = doc.meta
        key = "" if m.doc_id == corpus.primary else m.doc_id
        rows.append(Row(m.doc_id, m.title, m.number, m.structure, len(doc.chunks), _date(m.effective), _date(m.expires),
                        m.status(day), quotes.get(key, 0), Path(m.path).name, m.doc_id == corpus.primary,
                        bool(desk.librarian.versions(m.doc_id)) if m.doc_id != corpus.primary else False,
                        m.warnings))  # fmt: skip
    for f in corpus.failures:
        name = Path(f.file).name
        stem = name.split(".")[0]
        rows.append(Row(stem, name, "", "", 0, "", "", "未能读取", 0, name, False, False,
                        (f"{f'第{f.line}行:' if f.line else ''}{f.reason}",)))  # fmt: skip
    return rows


def _quotes(request: Request) -> dict[str, int]:
    qlog = request.app.state.staff_log.get()
    if qlog is None:
        return {}
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).isoformat(timespec="seconds")
    return dict(quotes_by_document(qlog._open(), since))


def _history(request: Request) -> list[AuditEntry]:
    qlog = request.app.state.staff_log.get()
    return [] if qlog is None else history(qlog._open(), 20)


def _page(
    request: Request, nonce: str, desk: LibraryDesk, message: str = "", error: str = "", status: int = 200
) -> Response:
    corpus = desk.librarian.corpus()
    context = {
        "csrf": admin._auth(request).csrf(nonce),
        "section": "documents",
        "rows": document_rows(desk, corpus, _quotes(request)),
        "history": _history(request),
        "build": rel.read_status(desk.releases),
        "building": desk.publisher.busy,
        "served": getattr(request.app.state.live, "served", None),
        "actions": ACTIONS,
        "status_class": STATUS_CLASS,
        "message": message,
        "error": error,
        "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        "others": [d.meta for d in corpus.documents if d.meta.doc_id != corpus.primary],
    }
    return templates.TemplateResponse(request, "admin_documents.html", context, status_code=status)


@router.get("/admin/documents", response_class=HTMLResponse)
async def documents_page(request: Request) -> Response:
    desk = _desk(request)
    nonce = admin._nonce(request, admin._auth(request))
    if nonce is None:
        return admin._login_page(request)
    done = {"publish": "已发布,索引正在后台更新,完成后几秒内所有服务实例生效", "withdraw": "已废止",
            "delete": "已删除", "undo": "已撤销上一次操作"}.get(request.query_params.get("done", ""), "")  # fmt: skip
    return await run_in_threadpool(_page, request, nonce, desk, done)


# ---- upload and preview ---------------------------------------------------------------------------


def _too_large(request: Request) -> Response:
    return error_page(request, f"文件太大:上传的文件不能超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB,请压缩或拆分后再上传",
                      413, heading="文件太大")  # fmt: skip


@router.post(UPLOAD_PATH, response_class=HTMLResponse)
async def upload(request: Request) -> Response:
    desk = _desk(request)
    auth = admin._auth(request)
    nonce = admin._nonce(request, auth)
    if nonce is None:
        return admin._unauthorized(request)
    # The global body limit skips this path; its own limit is checked here before a byte is read. A browser always
    # declares the length of a form upload; a body without one is refused rather than read to find out.
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return error_page(request, "上传请求缺少长度信息,请用后台页面的表单上传", 411, heading="无法上传")
    if int(length) > MAX_UPLOAD_BYTES + UPLOAD_SLACK:
        return _too_large(request)
    if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != "multipart/form-data":
        raise HTTPException(415)
    async with request.form(max_files=1, max_fields=5) as form:
        if not hmac.compare_digest(str(form.get("csrf", "")), auth.csrf(nonce)):
            return admin._forbidden(request)
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return await run_in_threadpool(_page, request, nonce, desk, "", "请选择要上传的文件", 422)
        doc_id = str(form.get("doc_id", "")).strip()
        if doc_id:
            try:
                check_doc_id(doc_id)
            except LibraryError as exc:
                return await run_in_threadpool(_page, request, nonce, desk, "", str(exc), 422)

        def blocks() -> Iterator[bytes]:
            file.file.seek(0)
            while block := file.file.read(1 << 16):
                yield block

        try:
            staged = await run_in_threadpool(desk.librarian.stage, blocks(), file.filename)
        except UploadRefused as exc:
            return await run_in_threadpool(_page, request, nonce, desk, "", str(exc), 422)
    target = f"/admin/documents/preview/{staged.token}" + (f"?doc_id={doc_id}" if doc_id else "")
    return RedirectResponse(target, status_code=303)


def _meta_values(doc: Document) -> dict[str, str]:
    m = doc.meta
    return {
        "title": m.title,
        "number": m.number,
        "phone": m.get("政策咨询电话"),
        "dept": m.consult_dept,
        "effective": _date(m.effective),
        "expires": _date(m.expires),
        "implements": ", ".join(m.implements),
        "status": "废止" if m.repealed else "现行",
    }


def _corrections(form: dict[str, str], read: dict[str, str]) -> dict[str, Any]:
    """Only what staff changed from what was read becomes the sidecar: the text stays the authority otherwise."""
    changed = {
        k: v for k, v in form.items() if k in (*EDITABLE, "implements", "status") and v.strip() != read.get(k, "")
    }
    return corrections_sidecar(changed)


def _preview_page(request: Request, nonce: str, desk: LibraryDesk, token: str, doc_id: str | None,
                  form: dict[str, str] | None = None, error: str = "", status: int = 200) -> Response:  # fmt: skip
    base = desk.librarian.preview(token, doc_id)
    read = _meta_values(base.document)
    preview = desk.librarian.preview(token, base.doc_id, _corrections(form, read)) if form else base
    values = {**read, **(form or {})}
    context = {
        "csrf": admin._auth(request).csrf(nonce),
        "section": "documents",
        "preview": preview,
        "doc": preview.document,
        "values": values,
        "read": read,
        "error": error,
    }
    return templates.TemplateResponse(request, "admin_documents_preview.html", context, status_code=status)


@router.get("/admin/documents/preview/{token}", response_class=HTMLResponse)
async def preview_page(token: str, request: Request) -> Response:
    desk = _desk(request)
    nonce = admin._nonce(request, admin._auth(request))
    if nonce is None:
        return admin._login_page(request)
    doc_id = request.query_params.get("doc_id") or None
    try:
        return await run_in_threadpool(_preview_page, request, nonce, desk, token, doc_id)
    except LibraryError as exc:
        return await run_in_threadpool(_page, request, nonce, desk, "", str(exc), 422)


@router.post("/admin/documents/preview/{token}", response_class=HTMLResponse)
async def preview_post(token: str, request: Request) -> Response:
    desk = _desk(request)
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    nonce, form = checked
    doc_id = form.get("doc_id") or None
    if form.get("action") == "discard":
        desk.librarian.discard(token) if _token_ok(token) else None
        return RedirectResponse("/admin/documents", status_code=303)
    try:
        if form.get("action") != "publish":
            return await run_in_threadpool(_preview_page, request, nonce, desk, token, doc_id, form)
        change = await run_in_threadpool(_publish, desk, token, doc_id, form)
    except LibraryError as exc:
        try:
            return await run_in_threadpool(_preview_page, request, nonce, desk, token, doc_id, None, str(exc), 422)
        except LibraryError:
            return await run_in_threadpool(_page, request, nonce, desk, "", str(exc), 422)
    actor = _actor(request, nonce)
    audit(request.app, actor, change.action, change.doc_id, {"title": change.title, **change.detail})
    desk.publisher.request(actor)
    return RedirectResponse("/admin/documents?done=publish", status_code=303)


def _token_ok(token: str) -> bool:
    return len(token) == 32 and all(c in "0123456789abcdef" for c in token)


def _publish(desk: LibraryDesk, token: str, doc_id: str | None, form: dict[str, str]) -> Any:
    base = desk.librarian.preview(token, doc_id)
    return desk.librarian.publish(token, base.doc_id, _corrections(form, _meta_values(base.document)))


async def _checked(request: Request) -> tuple[str, dict[str, str]] | Response:
    """admin._checked_post, with room for the preview form's fields."""
    auth = admin._auth(request)
    nonce = admin._nonce(request, auth)
    if nonce is None:
        return admin._unauthorized(request)
    if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HTTPException(415)
    async with request.form(max_files=0, max_fields=20) as raw:
        form = {k: str(v) for k, v in raw.items()}
    if not hmac.compare_digest(form.get("csrf", ""), auth.csrf(nonce)):
        return admin._forbidden(request)
    return nonce, form


# ---- withdraw, delete, undo -----------------------------------------------------------------------


@router.post("/admin/documents/{doc_id}/{action}", response_class=HTMLResponse)
async def change(doc_id: str, action: str, request: Request) -> Response:
    desk = _desk(request)
    if action not in ("withdraw", "delete", "undo"):
        raise HTTPException(404)
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    nonce, form = checked
    lib = desk.librarian
    try:
        if action == "withdraw":
            done = await run_in_threadpool(lib.withdraw, doc_id, form.get("superseded_by", "").strip())
        elif action == "delete":
            done = await run_in_threadpool(lib.delete, doc_id)
        else:
            done = await run_in_threadpool(lib.undo, doc_id)
    except (LibraryError, PolicyAssistantError) as exc:
        return await run_in_threadpool(_page, request, nonce, desk, "", str(exc), 422)
    actor = _actor(request, nonce)
    audit(request.app, actor, done.action, done.doc_id, {"title": done.title, **done.detail})
    desk.publisher.request(actor)
    return RedirectResponse(f"/admin/documents?done={action}", status_code=303)


__all__ = ["UPLOAD_PATH", "router"]
