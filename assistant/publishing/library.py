"""Staff operations on the policy library folder: stage an upload, preview its parse, publish, withdraw, delete, undo.

Every change to a document first moves its current files (document + sidecar) into `.versions/<doc-id>/<stamp>/`, so
the change can be undone; publishing a document that did not exist leaves an empty version, whose undo removes it.
Stored names are ours: `<doc-id><suffix>` with the doc id a slug staff chose or one generated here, the suffix from
the content's format. Staff corrections to the metadata are the sidecar `<file>.meta.toml` the loader already reads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import re
import secrets
import shutil
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from ..documents import metadata
from ..documents.library import document_files, load_corpus, read_document, read_settings, today
from ..documents.model import Corpus, Document
from ..documents.readers import READERS, DocumentReadError
from ..errors import CorpusError, PolicyAssistantError
from . import upload

STAGING = ".staging"
VERSIONS = ".versions"
_DOC_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_TOKEN_RE = re.compile(r"[0-9a-f]{32}")
_MEASURE_ID_RE = re.compile(r"[a-z][a-z0-9]{0,15}")
# The fields staff may correct on the preview, as the sidecar's keys (assistant/documents/metadata.py).
EDITABLE = ("title", "number", "phone", "dept", "effective", "expires")
DATE_KEYS = ("effective", "expires")


class LibraryError(PolicyAssistantError):
    """A library operation that cannot be done; the message says why, in Chinese for staff."""


@dataclass(frozen=True)
class Staged:
    token: str
    format: str
    size: int
    display_name: str


@dataclass(frozen=True)
class Preview:
    staged: Staged
    doc_id: str
    document: Document
    replaces: bool  # a document with this id is in the library: publishing makes a new version of it


@dataclass(frozen=True)
class Change:
    """What an operation did, for the audit trail and the page's message."""

    action: str
    doc_id: str
    title: str
    detail: dict[str, Any]


def corrections_sidecar(form: Mapping[str, str]) -> dict[str, Any]:
    """Staff's corrections (form fields named like the sidecar keys) → a checked sidecar table; blanks are left out."""
    out: dict[str, Any] = {}
    for key in EDITABLE:
        value = str(form.get(key, "")).strip()
        if not value:
            continue
        if key in DATE_KEYS:
            date = metadata.parse_date(value)
            if date is None:
                raise LibraryError(f"日期“{value}”无法识别,请写成 2025-03-01 或 2025年3月1日")
            out[key] = date
        else:
            out[key] = value[:200]
    implements = [m for m in re.split(r"[\s,，、;；]+", str(form.get("implements", ""))) if m]
    bad = [m for m in implements if not _MEASURE_ID_RE.fullmatch(m)]
    if bad:
        raise LibraryError(f"“实施的措施”应为条目编号,如 m3,而不是“{'、'.join(bad)}”")
    if implements:
        out["implements"] = implements
    status = str(form.get("status", "")).strip()
    if status in ("废止", "已废止"):
        out["status"] = "废止"
    elif status not in ("", "现行"):
        raise LibraryError(f"状态只能是“现行”或“废止”,而不是“{status}”")
    superseded = str(form.get("superseded_by", "")).strip()
    if superseded:
        out["superseded_by"] = check_doc_id(superseded)
    return out


def check_doc_id(doc_id: str) -> str:
    if not _DOC_ID_RE.fullmatch(doc_id or ""):
        raise LibraryError("文件编号只能由小写字母、数字和连字符组成(至多 40 个),如 guide-2025-01")
    return doc_id


class Librarian:
    """The operations on one library folder (the corpus every replica reads)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- reading ----------------------------------------------------------------------------

    @property
    def primary(self) -> str:
        paths = document_files(self.root)
        return str(read_settings(self.root).get("primary", paths[0].stem if paths else ""))

    def corpus(self) -> Corpus:
        return load_corpus(self.root)

    def files_of(self, doc_id: str) -> list[Path]:
        """The document's file(s) and sidecar(s) in the library: `<doc-id><suffix>[.meta.toml]` (doc ids have no dot)."""
        out = []
        for p in self.root.iterdir():
            base = p.name.removesuffix(".meta.toml")
            stem, dot, ext = base.partition(".")
            if p.is_file() and stem == doc_id and dot and f".{ext}".lower() in READERS:
                out.append(p)
        return sorted(out)

    def document_path(self, doc_id: str) -> Path | None:
        return next((p for p in self.files_of(doc_id) if not p.name.endswith(".meta.toml")), None)

    def exists(self, doc_id: str) -> bool:
        return self.document_path(doc_id) is not None

    # -- staging and preview ----------------------------------------------------------------

    def _staging(self, token: str) -> Path:
        if not _TOKEN_RE.fullmatch(token or ""):
            raise LibraryError("上传已失效,请重新上传文件")
        return self.root / STAGING / token

    def stage(self, blocks: Iterable[bytes], filename: str, limit: int = upload.MAX_UPLOAD_BYTES) -> Staged:
        """Stream an upload into the staging area and check it; raises upload.UploadRefused."""
        token = secrets.token_hex(16)
        folder = self.root / STAGING / token
        folder.mkdir(parents=True, mode=0o700)
        try:
            size = upload.receive(blocks, folder / "upload", limit)
            checked = upload.check(folder / "upload", filename)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        suffix = upload.STORED_SUFFIX[checked.format]
        (folder / "upload").rename(folder / f"upload{suffix}")
        (folder / "name.txt").write_text(checked.display_name, encoding="utf-8")
        return Staged(token, checked.format, size, checked.display_name)

    def staged(self, token: str) -> Staged:
        folder = self._staging(token)
        files = [p for p in folder.glob("upload.*") if p.suffix in READERS] if folder.is_dir() else []
        if not files:
            raise LibraryError("上传已失效,请重新上传文件")
        fmt = upload.SUFFIX_FORMATS[files[0].suffix]
        name = (folder / "name.txt").read_text(encoding="utf-8")
        return Staged(token, fmt, files[0].stat().st_size, name)

    def _staged_file(self, token: str) -> Path:
        self.staged(token)
        return next(p for p in self._staging(token).glob("upload.*") if p.suffix in READERS)

    def new_doc_id(self) -> str:
        while True:
            doc_id = f"doc-{today():%Y%m%d}-{secrets.token_hex(2)}"
            if not self.exists(doc_id):
                return doc_id

    def preview(self, token: str, doc_id: str | None = None, corrections: Mapping[str, Any] | None = None) -> Preview:
        """The staged upload parsed exactly as publishing it would: every chunk with its label, the metadata read
        (with staff's corrections applied). Raises LibraryError with the reader's or parser's reason."""
        doc_id = check_doc_id(doc_id) if doc_id else self.new_doc_id()
        if doc_id == self.primary:
            raise LibraryError("主文件(实施意见)不能在这里替换")
        path = self._staged_file(token)
        side = self._staging(token) / "meta.toml"
        side.write_bytes(tomli_w.dumps(dict(corrections or {})).encode("utf-8"))
        fallback = self._primary_phone()
        try:
            document = read_document(path, doc_id, fallback_phone=fallback, meta_path=side)
        except (CorpusError, DocumentReadError) as exc:
            raise LibraryError(f"文件无法读取:{exc.reason}") from None
        return Preview(self.staged(token), doc_id, document, self.exists(doc_id))

    def discard(self, token: str) -> None:
        shutil.rmtree(self._staging(token), ignore_errors=True)

    def _primary_phone(self) -> str:
        primary = self.document_path(self.primary)
        if primary is None:
            return ""
        try:
            return read_document(primary, self.primary, "").meta.phone
        except (CorpusError, DocumentReadError):
            return ""

    # -- changes ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One change at a time, across every replica sharing the folder (two staff publishing together)."""
        with (self.root / ".library.lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _snapshot(self, doc_id: str) -> str:
        """Move the document's current files into a new version folder; the folder's name."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        folder = self.root / VERSIONS / doc_id / stamp
        folder.mkdir(parents=True)
        for p in self.files_of(doc_id):
            shutil.move(p, folder / p.name)
        return stamp

    def _copy_back(self, doc_id: str, stamp: str) -> None:
        """Keep the current files in the version too (copy, not move): used before editing a sidecar in place."""
        folder = self.root / VERSIONS / doc_id / stamp
        for p in folder.iterdir():
            shutil.copy2(p, self.root / p.name)

    def publish(self, token: str, doc_id: str, corrections: Mapping[str, Any] | None = None) -> Change:
        with self._locked():
            return self._publish(token, doc_id, corrections)

    def _publish(self, token: str, doc_id: str, corrections: Mapping[str, Any] | None = None) -> Change:
        preview = self.preview(token, doc_id, corrections)  # refuses what cannot be read, before anything moves
        source = self._staged_file(token)
        stamp = self._snapshot(preview.doc_id)
        dest = self.root / f"{preview.doc_id}{source.suffix}"
        shutil.move(source, dest)
        if corrections:
            metadata.sidecar_path(dest).write_bytes(tomli_w.dumps(dict(corrections)).encode("utf-8"))
        self.discard(token)
        detail = {"version": stamp, "file": dest.name, "replaced": preview.replaces, "upload": preview.staged.display_name,
                  "corrections": {k: str(v) for k, v in (corrections or {}).items()}}  # fmt: skip
        return Change("publish", preview.doc_id, preview.document.meta.title, detail)

    def _require(self, doc_id: str) -> Path:
        check_doc_id(doc_id) if doc_id != self.primary else None
        path = self.document_path(doc_id)
        if path is None:
            raise LibraryError(f"文件 {doc_id} 不在政策库中")
        if doc_id == self.primary:
            raise LibraryError("主文件(实施意见)不能废止或删除")
        return path

    def _title(self, path: Path, doc_id: str) -> str:
        try:
            return read_document(path, doc_id).meta.title
        except (CorpusError, DocumentReadError):
            return doc_id

    def withdraw(self, doc_id: str, superseded_by: str = "") -> Change:
        with self._locked():
            return self._withdraw(doc_id, superseded_by)

    def _withdraw(self, doc_id: str, superseded_by: str = "") -> Change:
        """Status 废止 (dated today), optionally replaced by another document of the library."""
        path = self._require(doc_id)
        if superseded_by:
            check_doc_id(superseded_by)
            if superseded_by == doc_id or not self.exists(superseded_by):
                raise LibraryError(f"替代文件 {superseded_by} 不在政策库中")
        side = metadata.sidecar_path(path)
        data = tomllib.loads(side.read_text(encoding="utf-8")) if side.exists() else {}
        stamp = self._snapshot(doc_id)
        self._copy_back(doc_id, stamp)
        data.update(status="废止", repealed_on=today())
        if superseded_by:
            data["superseded_by"] = superseded_by
        side.write_bytes(tomli_w.dumps(data).encode("utf-8"))
        return Change("withdraw", doc_id, self._title(path, doc_id), {"version": stamp, "superseded_by": superseded_by})

    def delete(self, doc_id: str) -> Change:
        with self._locked():
            return self._delete(doc_id)

    def _delete(self, doc_id: str) -> Change:
        path = self._require(doc_id)
        title = self._title(path, doc_id)
        stamp = self._snapshot(doc_id)
        return Change("delete", doc_id, title, {"version": stamp, "file": path.name})

    def versions(self, doc_id: str) -> list[str]:
        folder = self.root / VERSIONS / check_doc_id(doc_id)
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def undo(self, doc_id: str) -> Change:
        with self._locked():
            return self._undo(doc_id)

    def _undo(self, doc_id: str) -> Change:
        """Back to the document as it was before its last change (a first publish is undone by removing it)."""
        versions = self.versions(doc_id)
        if not versions:
            raise LibraryError(f"文件 {doc_id} 没有可以撤销的操作")
        folder = self.root / VERSIONS / doc_id / versions[-1]
        current = self.document_path(doc_id)
        title = self._title(current, doc_id) if current else doc_id
        for p in self.files_of(doc_id):
            p.unlink()
        for p in folder.iterdir():
            shutil.move(p, self.root / p.name)
        folder.rmdir()
        restored = self.document_path(doc_id)
        if restored is not None:
            title = self._title(restored, doc_id)
        return Change("undo", doc_id, title, {"version": versions[-1], "restored": restored is not None})


__all__ = [
    "EDITABLE",
    "Change",
    "Librarian",
    "LibraryError",
    "Preview",
    "Staged",
    "check_doc_id",
    "corrections_sidecar",
]
