"""One reader per format, chosen by the file's suffix: `read_source(path) -> SourceText`.

Each format module exposes `read(path: Path) -> SourceText` and raises `DocumentReadError` for a file it cannot read.
Modules are imported lazily so a missing optional parser library only affects files of its format.
"""

from __future__ import annotations

import importlib
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


def supported(path: str | Path) -> bool:
    return Path(path).suffix.lower() in READERS


def read_source(path: str | Path) -> SourceText:
    path = Path(path)
    module_name = READERS.get(path.suffix.lower())
    if module_name is None:
        raise DocumentReadError(path, f"不支持的文件类型 {path.suffix or '(无扩展名)'}(支持 .txt .md .docx .pdf .html)")
    module = importlib.import_module(f".{module_name}", __package__)
    return module.read(path)


__all__ = ["READERS", "DocumentReadError", "SourceText", "read_source", "supported"]
