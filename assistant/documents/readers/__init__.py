"""One reader per format, chosen by the file's suffix: `read_source(path) -> SourceText`.

Each format module exposes `read(path: Path) -> SourceText` and raises `DocumentReadError` for a file it cannot read.
Modules are imported lazily so a missing optional parser library only affects files of its format.

Before dispatching, `read_source` checks the file's content against its suffix (`sniff_format`): a web page saved as
「通知.pdf」 is refused with a message saying what the file really is, instead of a parser's confusing error.
"""

from __future__ import annotations

import codecs
import importlib
import io
import re
import zipfile
from pathlib import Path

from .base import DocumentReadError, SourceText

# suffix → module in this package
READERS: dict[str, str] = {
    ".txt": "text",
    ".md": "text",
    ".docx": "docx",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
}

# What `sniff_format` may return → what a user calls it (for the 「内容…与扩展名不符」 message).
FORMAT_NAMES: dict[str, str] = {
    "pdf": "PDF",
    "docx": "Word 文档(.docx)",
    "zip": "ZIP 压缩包(不是 Word 文档)",
    # Old binary .doc/.wps files and password-protected .docx files are both OLE compound files.
    "ole": "旧版 Word/WPS 文件(.doc/.wps)或加密的 Word 文件",
    "html": "网页(HTML)",
    "text": "纯文本",
}
# suffix's reader module → the sniffed formats its content may have. A saved web page may lack <html>/<!DOCTYPE>
# and sniff as text; the HTML reader then decides whether it holds an article.
EXPECTED: dict[str, frozenset[str]] = {
    "text": frozenset({"text"}),
    "docx": frozenset({"docx"}),
    "pdf": frozenset({"pdf"}),
    "html": frozenset({"html", "text"}),
}

OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
SNIFF_BYTES = 64 * 1024  # enough to see a header and decode a sample; a zip is checked through its central directory
# A page starts (after an XML declaration or comments, as some CMSs write them) with one of these tags.
_HTML_START = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title)\b",
    re.IGNORECASE | re.DOTALL,
)


def sniff_format(data: bytes) -> str | None:
    """What a file's bytes are, whatever its name says: "pdf", "docx", "zip" (a zip archive that is not a Word
    document), "ole" (an old .doc/.wps or an encrypted Office file), "html", "text" (UTF-8 or GB18030 without control
    bytes) or None (some other binary).

    `data` is the whole file or its first bytes; a truncated zip is still recognised as Word by its first entry names."""
    head = data[:SNIFF_BYTES]
    # PDF readers accept the header anywhere in the first kilobyte (some producers put junk before it).
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(OLE_MAGIC):
        return "ole"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError):
            # Cut short or partial data: the local headers still name the entries.
            return "docx" if b"word/document.xml" in head or b"word/" in head else "zip"
        return "docx" if "word/document.xml" in names else "zip"
    text = _decode_sample(head)
    if text is None:
        return None
    if _HTML_START.match(text):
        return "html"
    return "text"


def _decode_sample(head: bytes) -> str | None:
    """Decode as UTF-8, else GB18030, tolerating a multi-byte character cut at the end of the sample."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None  # the text reader reads UTF-8 and GB18030 only
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        # Tab, newline and carriage return are text; other C0 controls (and NUL) mean a binary file.
        if any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text):
            return None
        return text
    return None


def _sniff_file(path: Path) -> str | None:
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(b"PK"):
        # Judge a zip by its central directory, at the end of the file (zipfile reads only that).
        try:
            with zipfile.ZipFile(path) as archive:
                return "docx" if "word/document.xml" in archive.namelist() else "zip"
        except (zipfile.BadZipFile, EOFError):
            pass  # cut short: sniff_format looks for the entry names in the local headers
    return sniff_format(head)


def supported(path: str | Path) -> bool:
    return Path(path).suffix.lower() in READERS


def read_source(path: str | Path) -> SourceText:
    path = Path(path)
    module_name = READERS.get(path.suffix.lower())
    if module_name is None and path.suffix.lower() in (".doc", ".wps"):
        raise DocumentReadError(path, f"不支持旧版 Word/WPS 格式({path.suffix}),请用 Word 或 WPS 另存为 .docx 后再添加")
    if module_name is None:
        raise DocumentReadError(path, f"不支持的文件类型 {path.suffix or '(无扩展名)'}(支持 .txt .md .docx .pdf .html)")
    try:
        size = path.stat().st_size
        sniffed = _sniff_file(path)
    except OSError as exc:
        raise DocumentReadError(path, f"文件无法打开({exc.strerror or exc})") from exc
    if size == 0:
        raise DocumentReadError(path, "文件是空的")
    if sniffed not in EXPECTED[module_name]:
        what = FORMAT_NAMES.get(sniffed, "无法识别的二进制内容") if sniffed else "无法识别的二进制内容"
        if sniffed == "ole":  # what to do matters more than the mismatch
            raise DocumentReadError(path, f"文件内容是{what},请用 Word 或 WPS 另存为未加密的 .docx 后再添加")
        raise DocumentReadError(path, f"文件内容是{what},与扩展名 {path.suffix} 不符")
    module = importlib.import_module(f".{module_name}", __package__)
    return module.read(path)


__all__ = ["READERS", "DocumentReadError", "SourceText", "read_source", "sniff_format", "supported"]
