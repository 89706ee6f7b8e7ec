"""Plain text and Markdown, as UTF-8 (with or without a BOM) or GB18030, the two encodings Chinese sites publish in."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from .base import DocumentReadError, SourceText


def read(path: Path) -> SourceText:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DocumentReadError(path, "既不是 UTF-8 也不是 GB18030 编码的文本")
    if "\0" in text:
        raise DocumentReadError(path, "不是文本文件(含有二进制内容)")
    lines = tuple(unicodedata.normalize("NFC", line) for line in text.splitlines())
    return SourceText(path=str(path), format="md" if path.suffix.lower() == ".md" else "txt", lines=lines)
