"""What staff upload is checked before a byte of it is parsed or stored under a name of ours.

- Size: at most MAX_UPLOAD_BYTES, counted while the upload is streamed to disk (a 50 MB file is refused at 10 MB + one
  block, never read whole into memory).
- Type: decided by the content (magic bytes), not by the name; a name's suffix that contradicts the content (a ".pdf"
  that is an HTML page) is refused rather than guessed around.
- .docx: a zip opened with limits on its entry count and on the bytes it actually expands to (decompressed in blocks
  and stopped at the limit: the sizes a zip's directory declares can lie), so a zip bomb is refused.
- The upload's file name is never used for a path: only its suffix is compared with the content.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..documents.readers import SNIFF_BYTES, sniff_format
from ..errors import PolicyAssistantError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_ZIP_ENTRIES = 200
MAX_EXPANDED_BYTES = 40 * 1024 * 1024
SUFFIX_FORMATS = {".txt": "txt", ".md": "txt", ".docx": "docx", ".pdf": "pdf", ".html": "html", ".htm": "html"}
STORED_SUFFIX = {"txt": ".txt", "docx": ".docx", "pdf": ".pdf", "html": ".html"}
FORMAT_NAMES = {"txt": "纯文本", "docx": "Word 文档(.docx)", "pdf": "PDF", "html": "网页(HTML)", "zip": "压缩包"}


class UploadRefused(PolicyAssistantError):
    """An upload that is not stored; the message (Chinese, for staff) says why and what to do."""


@dataclass(frozen=True)
class CheckedUpload:
    path: Path  # where it was streamed (a name of ours)
    format: str  # txt / docx / pdf / html, from the content
    size: int
    display_name: str  # the upload's base name, for showing only


def display_name(filename: str) -> str:
    """The last component of an uploaded name, for display: "../../etc/passwd" → "passwd"."""
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    return "".join(ch for ch in name if ch.isprintable())[:120] or "(无文件名)"


def receive(blocks: Iterable[bytes], dest: Path, limit: int = MAX_UPLOAD_BYTES) -> int:
    """Stream `blocks` into `dest` (created 0600); refuse as soon as more than `limit` bytes arrive."""
    size = 0
    fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            for block in blocks:
                size += len(block)
                if size > limit:
                    raise UploadRefused(
                        f"文件太大:上传的文件不能超过 {limit // (1024 * 1024)} MB,请压缩图片或拆分后再上传"
                    )
                fh.write(block)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    if size == 0:
        dest.unlink(missing_ok=True)
        raise UploadRefused("上传的文件是空的")
    return size


def sniff(head: bytes) -> str:
    """The format the first bytes show: pdf, docx, zip, ole, html, txt, or "" (binary of an unsupported kind).

    The readers' own sniffer decides (assistant/documents/readers), so an upload is judged as the loader will read it."""
    found = sniff_format(head) or ""
    return "txt" if found == "text" else found


def check_docx(path: Path) -> None:
    """A .docx is a zip: refuse one with too many entries, or that expands past MAX_EXPANDED_BYTES, or is no Word file."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise UploadRefused(f"Word 文件结构异常(包含 {len(infos)} 个部件,超过 {MAX_ZIP_ENTRIES} 个),已拒收")
            names = {i.filename for i in infos}
            if "word/document.xml" not in names or "[Content_Types].xml" not in names:
                raise UploadRefused("压缩包不是 Word 文档(.docx),请上传 .docx、.pdf、.html 或 .txt 文件")
            total = 0
            for info in infos:
                with zf.open(info) as member:
                    while block := member.read(1 << 16):
                        total += len(block)
                        if total > MAX_EXPANDED_BYTES:
                            raise UploadRefused(
                                f"Word 文件解压后超过 {MAX_EXPANDED_BYTES // (1024 * 1024)} MB(疑似“压缩炸弹”),已拒收"
                            )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise UploadRefused(f"Word 文件已损坏,无法打开({type(exc).__name__}),请重新保存后再上传") from None


def check(path: Path, filename: str) -> CheckedUpload:
    """The upload streamed to `path`, checked; raises UploadRefused (and removes `path`) when it is refused."""
    try:
        return _check(path, filename)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _check(path: Path, filename: str) -> CheckedUpload:
    shown = display_name(filename)
    suffix = PurePosixPath(shown).suffix.lower()
    claimed = SUFFIX_FORMATS.get(suffix)
    if claimed is None:
        raise UploadRefused(f"不支持的文件类型“{suffix or '无扩展名'}”:请上传 .docx、.pdf、.html、.txt 或 .md 文件")
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    found = sniff(head)
    if found == "ole":
        raise UploadRefused("这是旧版 Word(.doc/.wps)或加密的 Office 文件,请在 Word 中另存为 .docx(不加密码)后再上传")
    if found in ("zip", "docx"):
        if claimed != "docx":
            raise UploadRefused(f"文件名是 {suffix},内容却是压缩包(ZIP),已拒收")
        check_docx(path)
        found = "docx"
    if not found:
        raise UploadRefused(f"文件名是 {suffix},但内容不是可读的文字、Word、PDF 或网页,已拒收")
    if found != claimed:
        raise UploadRefused(
            f"文件名是 {suffix},内容却是{FORMAT_NAMES[found]},不是{FORMAT_NAMES[claimed]}:请确认文件后重新上传"
        )
    return CheckedUpload(path=path, format=found, size=path.stat().st_size, display_name=shown)


__all__ = [
    "MAX_EXPANDED_BYTES",
    "MAX_UPLOAD_BYTES",
    "MAX_ZIP_ENTRIES",
    "STORED_SUFFIX",
    "CheckedUpload",
    "UploadRefused",
    "check",
    "check_docx",
    "display_name",
    "receive",
    "sniff",
]
