"""Word (.docx), read with python-docx: body paragraphs in order, each table row as one 「cell | cell」 line (办事指南
are often tables), and Word's automatic numbering written back in front of the paragraphs it numbers
(docx_numbering.py), since 「一、申请材料」 is how people cite them. Headers, footers, footnotes and comments are not
the document and are not read; a text box is (a 版头 or 文号 is often set in one), before the paragraph it is anchored to.

A .docx is a zip archive from a user: its directory is checked before anything is decompressed (too many entries, or
too many bytes once expanded, is refused as a zip bomb). Declared sizes are enough: Python's zipfile never
decompresses an entry past its declared size.
"""

from __future__ import annotations

import unicodedata
import zipfile
from pathlib import Path

from .base import DocumentReadError, SourceText
from .docx_numbering import WordNumbering, prefix

MAX_ENTRIES = 2000  # a Word file has tens of parts; thousands is an archive built to exhaust the reader
MAX_EXPANDED_BYTES = 100 * 1024 * 1024  # even a .docx full of photos stays far below this once decompressed

CELL_SEPARATOR = " | "


def read(path: Path) -> SourceText:
    _check_archive(path)
    import docx  # imported here so a missing parser only affects .docx files
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    try:
        document = docx.Document(str(path))
        title = (document.core_properties.title or "").strip()
        numbering_part = _numbering_part(document)
        styles = document.styles.element
    except (
        PackageNotFoundError,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        XMLSyntaxError,
        OSError,
        RuntimeError,
        NotImplementedError,
    ) as exc:
        # RuntimeError: a password-protected zip entry; NotImplementedError: a compression method zipfile lacks.
        raise DocumentReadError(path, "不是有效的 Word 文件(.docx),或文件已损坏") from exc

    reader = _BodyReader(WordNumbering(numbering_part, styles))
    reader.block(document.element.body)
    lines = tuple(unicodedata.normalize("NFC", line) for line in reader.lines)
    warnings = []
    if reader.numbering.unknown_formats:
        formats = "、".join(sorted(reader.numbering.unknown_formats))
        warnings.append(f"Word 自动编号格式 {formats} 无法还原,这些段落前的编号未读出")
    if reader.numbering.missing_lists:
        warnings.append(f"{reader.numbering.missing_lists} 个段落的自动编号在文件中没有定义,编号未读出")
    if not lines:
        raise DocumentReadError(path, "Word 文件中没有文字")
    fields = (("标题", unicodedata.normalize("NFC", title)),) if title else ()
    return SourceText(path=str(path), format="docx", lines=lines, fields=fields, warnings=tuple(warnings))


def _check_archive(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DocumentReadError(path, "不是有效的 Word 文件(.docx),或文件已损坏") from exc
    if len(entries) > MAX_ENTRIES:
        raise DocumentReadError(
            path, f"Word 文件内含 {len(entries)} 个条目(上限 {MAX_ENTRIES}),疑似压缩炸弹,已拒绝读取"
        )
    expanded = sum(entry.file_size for entry in entries)
    if expanded > MAX_EXPANDED_BYTES:
        raise DocumentReadError(
            path,
            f"Word 文件解压后约 {expanded // (1024 * 1024)} MB(上限 {MAX_EXPANDED_BYTES // (1024 * 1024)} MB),"
            "疑似压缩炸弹,已拒绝读取",
        )


def _numbering_part(document):
    # `document.part.numbering_part` creates an empty part when there is none; only an existing one matters here.
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    for rel in document.part.rels.values():
        if rel.reltype == RT.NUMBERING and not rel.is_external:
            return rel.target_part.element
    return None


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _tag(name: str) -> str:
    return W + name.removeprefix("w:")


class _BodyReader:
    """Walks <w:body> in document order: paragraphs, tables and content controls (<w:sdt>) that wrap either."""

    def __init__(self, numbering: WordNumbering) -> None:
        self.numbering = numbering
        self.lines: list[str] = []
        self.P, self.TBL, self.SDT = _tag("w:p"), _tag("w:tbl"), _tag("w:sdt")
        self.SDT_CONTENT, self.TR, self.TC = _tag("w:sdtContent"), _tag("w:tr"), _tag("w:tc")
        self.T, self.TAB, self.BR, self.CR = _tag("w:t"), _tag("w:tab"), _tag("w:br"), _tag("w:cr")
        self.TXBX, self.FALLBACK = _tag("w:txbxContent"), MC_FALLBACK
        self.VANISH, self.RPR = _tag("w:vanish"), _tag("w:rPr")

    def block(self, container) -> None:
        for child in container:
            if child.tag == self.P:
                self.lines.extend(self.paragraph(child))
            elif child.tag == self.TBL:
                self.table(child)
            elif child.tag == self.SDT:
                content = child.find(self.SDT_CONTENT)
                if content is not None:
                    self.block(content)

    def paragraph(self, p) -> list[str]:
        """A paragraph's visible lines (a manual line break starts a new one), its Word number in front."""
        boxes: list[str] = []
        text = self._text(p, boxes)
        label = self.numbering.label(p)  # counted even when empty: an empty numbered paragraph still takes a number
        parts = [part.strip() for part in text.split("\n")]
        parts = [part for part in parts if part]
        if parts:
            parts[0] = prefix(label, parts[0])
        # A text box anchored here (a 版头 or 文号 set in a box) is read before its anchor's own text.
        return boxes + parts

    def _text(self, p, boxes: list[str]) -> str:
        chunks: list[str] = []
        for element in p.iter(self.T, self.TAB, self.BR, self.CR, self.TXBX):
            if self._boxed(element, p):
                continue  # inside a text box (read with the box), or the duplicate a legacy fallback carries
            if element.tag == self.TXBX:
                inner = _BodyReader(self.numbering)
                inner.block(element)
                boxes.extend(inner.lines)
                continue
            run = element.getparent()
            r_pr = run.find(self.RPR) if run is not None else None
            if r_pr is not None and r_pr.find(self.VANISH) is not None:
                continue  # hidden text is not printed
            if element.tag == self.T:
                chunks.append(element.text or "")
            elif element.tag == self.TAB:
                chunks.append(" ")
            elif element.tag == self.BR and element.get(_tag("w:type")) in ("page", "column"):
                continue  # a page break is layout, not a line
            else:
                chunks.append("\n")
        return "".join(chunks)

    def _boxed(self, element, p) -> bool:
        """Is `element` inside a text box or a fallback copy within paragraph `p` (not counting boxes around `p`)?"""
        for ancestor in element.iterancestors():
            if ancestor is p:
                return False
            if ancestor.tag in (self.TXBX, self.FALLBACK):
                return True
        return False

    def table(self, tbl) -> None:
        # A cell merged down (<w:vMerge/>) is empty in the rows below its first; repeat its text there, so that a row
        # such as 「申请材料 | 2.营业执照」 still names its heading.
        above: dict[int, str] = {}
        for tr in tbl.iter(self.TR):
            if next((a for a in tr.iterancestors(self.TBL)), None) is not tbl:
                continue  # a row of a nested table is read as part of its cell
            cells, column = [], 0
            for tc in tr.iter(self.TC):
                if next((a for a in tc.iterancestors(self.TR)), None) is not tr:
                    continue
                span = _int_attr(tc, "w:tcPr/w:gridSpan")
                merge = tc.find(f"{_tag('w:tcPr')}/{_tag('w:vMerge')}")
                if merge is not None and merge.get(_tag("w:val")) != "restart":
                    text = above.get(column, "")
                else:
                    text = self.cell(tc)
                    above[column] = text
                if text:
                    cells.append(text)
                column += span
            if cells:
                self.lines.append(CELL_SEPARATOR.join(cells))

    def cell(self, tc) -> str:
        inner = _BodyReader(self.numbering)
        inner.block(tc)
        # Nested tables come back as their own 「a | b」 lines; inside one cell they read as one line.
        return " ".join(inner.lines)


def _int_attr(element, path: str) -> int:
    parts = [_tag(part) for part in path.split("/")]
    node = element.find("/".join(parts))
    try:
        return max(1, int(node.get(_tag("w:val")))) if node is not None else 1
    except (TypeError, ValueError):
        return 1
