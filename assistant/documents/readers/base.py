"""The contract every reader fulfils: a file in, its text as numbered lines out.

Line numbers are what parse reports, `/healthz` and the start-up log cite, so a reader keeps one line of output per
visible line (or paragraph) of the source in reading order, after dropping what is not the document (page headers and
numbers in a PDF, navigation in a saved web page) and rejoining what the medium broke (lines cut by a PDF's page width).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...errors import PolicyAssistantError


class DocumentReadError(PolicyAssistantError):
    """A file cannot be read as a document. The message is one Chinese line naming the file and the reason
    (「扫描版 PDF,没有文字层」, 「PDF 已加密」, 「不是有效的 Word 文件」, 「网页中找不到正文」…)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"无法读取文件 {self.path}: {reason}")


@dataclass(frozen=True)
class SourceText:
    """A document's text as read from its file.

    `lines` are the document's lines in reading order (1-based line n is `lines[n-1]`), NFC-normalised, without the
    format's furniture. `fields` carries metadata the format states outside the body text (an HTML page's
    发布时间/来源, a .docx's core title), verbatim, in source order. `warnings` are Chinese sentences for the parse report
    (「第3页的页眉已去除」 is not a warning; 「第5页没有文字层」 is)."""

    path: str
    format: str  # "txt" | "md" | "docx" | "pdf" | "html"
    lines: tuple[str, ...]
    fields: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
