"""PDF with a text layer, read with pdfplumber (pdfminer.six underneath: pure Python, maps CID fonts such as the
Song/Fangsong faces of 公文 PDFs back to Unicode, and gives each line's position, which the clean-up below needs).

A PDF has no paragraphs, only lines placed on pages. What a reader of the printed page ignores is removed:
- running headers and footers: a line among the first or last lines of its page whose text (digits aside) recurs in
  that position on at least half of the pages;
- page numbers: 「— 3 —」, 「-3-」, 「第 3 页 共 5 页」, 「3/5」, a bare 「3」 in that position.
And what the page width broke is rejoined: a line that reaches the right margin continues on the next line unless the
next line is indented (a new paragraph starts two characters in), starts a numbered item or heading, or — when the
document does not indent its paragraphs — the line ends a sentence. Numbers cut across lines (「2025」|「年3月」,
「0532-8786868」|「6」) come back together because a wrapped line is joined with no space. A title set in a larger font
and broken over two centred lines is joined as well. A ruled table (pdfplumber's table finder) becomes one
「cell | cell」 line per row, as in the Word and web readers.

Not handled: text in two columns (read across both), unruled tables (read as lines), scanned pages (no OCR here).
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from .base import DocumentReadError, SourceText

MAX_PAGES = 300  # a policy document, even a 汇编, is far shorter; more is not worth minutes of parsing
EDGE_LINES = 2  # how many lines at the top and at the bottom of a page may be a running header/footer

# Page numbers as Chinese documents print them. Only lines among a page's first/last EDGE_LINES are tested.
PAGE_NUMBER = re.compile(
    r"^(?:[—–\-－ー一]+\s*\d+\s*[—–\-－ー一]+"  # — 3 —   -3-   －3－
    r"|第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?"  # 第 3 页 共 5 页
    r"|共\s*\d+\s*页\s*第\s*\d+\s*页"
    r"|\d+\s*/\s*\d+"  # 3/5
    r"|(?:page\s*)?\d+(?:\s*of\s*\d+)?)$",  # 3, Page 3 of 5
    re.IGNORECASE,
)
# Where a new item starts: a wrapped line is never joined onto the next when the next begins with one of these.
ITEM_START = re.compile(
    r"^(?:[一二三四五六七八九十百零〇]+[、.．]"  # 一、
    r"|[（(][一二三四五六七八九十百零〇]+[）)]"  # （一）
    r"|\d+[、.．](?!\d)"  # 1. 2、  (not 1.5万元)
    r"|[（(]\d+[）)]"  # （1）
    r"|[①-⑳]"
    r"|第[一二三四五六七八九十百零〇\d]+[章节条]"  # 第五条
    r"|[【〔][^】〕]{1,12}[】〕]"  # 【申请材料】
    r"|[问答][:：]|[QA]\d*[:：.．])"  # 问： 答： Q1：
)
SENTENCE_END = tuple("。！？；：!?;:")
HANGING = tuple("，。、；：？！）》」』”’,.;:?!)")  # punctuation a typesetter lets hang past the right margin
# Kangxi radicals (U+2F00–U+2FDF) and CJK radicals (U+2E80–U+2EFF) look like ordinary characters; some PDF producers
# map glyphs to them (「⽤」 for 「用」), which breaks every search. NFKC maps each back to its ideograph; it is applied
# to those characters only, since NFKC would also turn full-width punctuation into ASCII.
RADICALS = re.compile("[\u2e80-\u2eff\u2f00-\u2fdf]")
CID_GLYPH = re.compile(r"\(cid:\d+\)")


@dataclass(frozen=True)
class _Line:
    page: int
    text: str
    x0: float
    x1: float
    size: float  # the commonest character size on the line
    page_width: float
    top: float = 0.0
    table: bool = False  # a ruled table's row, 「cell | cell」: never furniture, never joined


def read(path: Path) -> SourceText:
    import pdfplumber  # imported here so a missing parser only affects .pdf files
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.psexceptions import PSException
    from pdfplumber.utils.exceptions import PdfminerException

    warnings: list[str] = []
    pages: list[list[_Line]] = []
    try:
        with pdfplumber.open(path) as pdf:
            title = _metadata_title(pdf.metadata)
            encrypted = pdf.doc.encryption is not None
            if len(pdf.pages) > MAX_PAGES:
                raise DocumentReadError(
                    path, f"PDF 共 {len(pdf.pages)} 页,超过 {MAX_PAGES} 页的上限;请只提供政策文件本身"
                )
            for number, page in enumerate(pdf.pages, start=1):
                pages.append(_page_lines(number, page))
                page.close()  # drop the page's parsed objects: a long PDF is read one page at a time
    except (PdfminerException, PSException) as exc:
        # pdfplumber wraps what pdfminer raises while opening; a page parsed later raises pdfminer's own errors.
        cause = exc.args[0] if isinstance(exc, PdfminerException) and exc.args else exc
        if isinstance(cause, PDFPasswordIncorrect):
            raise DocumentReadError(path, "PDF 已加密,需要密码才能打开;请提供未加密的文件") from exc
        if isinstance(cause, PDFEncryptionError):
            raise DocumentReadError(path, "PDF 已加密,且加密方式无法处理;请提供未加密的文件") from exc
        raise DocumentReadError(path, "不是有效的 PDF 文件,或文件已损坏") from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # pdfminer reports some damaged structures as plain Python errors.
        raise DocumentReadError(path, "PDF 文件已损坏,无法读取") from exc

    if not any(pages):
        raise DocumentReadError(path, "扫描版 PDF,没有文字层,无法读取")
    # pdfminer writes a glyph it cannot map to Unicode as "(cid:123)". Mostly such glyphs: the text is not there.
    undecodable = sum(len(m) for page in pages for line in page for m in CID_GLYPH.findall(line.text))
    chars = sum(len(line.text) for page in pages for line in page)
    if undecodable * 2 > chars:
        why = "字体缺少 Unicode 映射" + (",且文件已加密(禁止复制)" if encrypted else "")
        raise DocumentReadError(path, f"PDF 的文字层无法解码({why}),无法读取")
    if undecodable:
        # A few: shown as 「□」, never dropped (「1□00元」 must not become 「100元」).
        count = sum(len(CID_GLYPH.findall(line.text)) for page in pages for line in page)
        pages = [[replace(line, text=CID_GLYPH.sub("□", line.text)) for line in page] for page in pages]
        warnings.append(f"PDF 中有 {count} 个字符无法解码(字体缺少 Unicode 映射),以「□」代替")
    for number, page in enumerate(pages, start=1):
        if not page:
            warnings.append(f"第{number}页没有文字层(可能是扫描页),该页内容未读取")

    body = _drop_furniture(pages)
    lines = tuple(unicodedata.normalize("NFC", text) for text in _rejoin(body) if text)
    fields = (("标题", title),) if title else ()
    return SourceText(path=str(path), format="pdf", lines=lines, fields=fields, warnings=tuple(warnings))


def _metadata_title(metadata: dict) -> str | None:
    title = metadata.get("Title")
    if isinstance(title, bytes):
        return None  # undecodable
    title = str(title or "").strip()
    # Producers fill Title with the source file's name ("Microsoft Word - 通知.docx") or nothing useful.
    if not title or re.search(r"\.(docx?|wps|pdf)$|^Microsoft Word", title, re.IGNORECASE):
        return None
    return unicodedata.normalize("NFC", title)


def _page_lines(number: int, page) -> list[_Line]:
    # Ruled tables (办事指南 are often tables) become one 「cell | cell」 line per row, placed where the table stands;
    # the rest of the page is read as lines.
    tables = page.find_tables()
    boxes = [table.bbox for table in tables]
    text_page = page.filter(lambda obj: not _inside(obj, boxes)) if boxes else page
    lines = []
    for raw in text_page.extract_text_lines(return_chars=True):
        text = _clean(raw["text"])
        if not text:
            continue
        sizes = Counter(round(ch["size"], 1) for ch in raw["chars"])
        size = sizes.most_common(1)[0][0] if sizes else 0.0
        lines.append(_Line(number, text, raw["x0"], raw["x1"], size, float(page.width), raw["top"]))
    for table in tables:
        x0, top, x1, _ = table.bbox
        for index, row in enumerate(table.extract()):
            # A cell's own lines were wrapped by the cell's width: glue them back like a paragraph's.
            cells = [_clean(_glue_lines(cell.split("\n"))) for cell in row if cell and cell.strip()]
            if cells:
                lines.append(_Line(number, " | ".join(cells), x0, x1, 0.0, float(page.width), top + index * 1e-3, True))
    lines.sort(key=lambda line: line.top)
    return lines


def _inside(obj, boxes) -> bool:
    if "x0" not in obj or "top" not in obj:
        return False
    cx, cy = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= cx <= x1 and top <= cy <= bottom for x0, top, x1, bottom in boxes)


def _clean(text: str) -> str:
    return RADICALS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text).strip()


def _glue_lines(parts: list[str]) -> str:
    text = ""
    for part in (part.strip() for part in parts):
        if part:
            text = _glue(text, part) if text else part
    return text


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def _drop_furniture(pages: list[list[_Line]]) -> list[_Line]:
    """Remove running headers/footers and page numbers from each page's first and last lines."""
    texted = [page for page in pages if page]
    # A header/footer repeats on at least half of the pages that have text (and on two at least).
    need = max(2, (len(texted) + 1) // 2)
    seen: Counter[str] = Counter()
    for page in texted:
        seen.update({_furniture_key(line.text) for line in _edges(page) if not line.table})
    repeated = {key for key, count in seen.items() if count >= need}
    body: list[_Line] = []
    for page in texted:
        edges = {id(line) for line in _edges(page)}
        for line in page:
            if (
                id(line) in edges
                and not line.table
                and (PAGE_NUMBER.match(re.sub(r"\s+", " ", line.text)) or _furniture_key(line.text) in repeated)
            ):
                continue
            body.append(line)
    return body


def _edges(page: list[_Line]) -> list[_Line]:
    return page[:EDGE_LINES] + page[max(EDGE_LINES, len(page) - EDGE_LINES) :]


def _rejoin(lines: list[_Line]) -> list[str]:
    text_lines = [line for line in lines if not line.table]
    if not text_lines:
        return [line.text for line in lines]
    body_size = statistics.median(line.size for line in text_lines) or 10.0
    # The margins, robust to a few stray lines (a wide formula, a note set further out): the left margin is where
    # the leftmost tenth of lines start; the right one is the third-furthest line end without hanging punctuation.
    starts = sorted(line.x0 for line in text_lines)
    left = starts[len(starts) // 10]
    ends = sorted((line.x1 for line in text_lines if not line.text.endswith(HANGING)), reverse=True)
    right = ends[min(2, len(ends) - 1)] if ends else max(line.x1 for line in text_lines)
    indented = [line.x0 > left + 1.5 * body_size for line in lines]
    uses_indent = any(indented[i] for i, line in enumerate(lines) if not line.table) and not all(
        indented[i] for i, line in enumerate(lines) if not line.table
    )

    out: list[str] = []
    prev: _Line | None = None
    for line, indent in zip(lines, indented, strict=True):
        if (
            prev is not None
            and not prev.table
            and not line.table
            and _continues(prev, line, indent, left, right, body_size, uses_indent)
        ):
            out[-1] = _glue(out[-1], line.text)
        else:
            out.append(line.text)
        prev = line
    return out


def _continues(
    prev: _Line, line: _Line, indent: bool, left: float, right: float, size: float, uses_indent: bool
) -> bool:
    """Is `line` the rest of `prev`, broken off by the page width?"""
    if ITEM_START.match(line.text):
        return False
    big = size * 1.15
    if prev.size > big and line.size > big:
        # A title in a larger font, broken over centred lines.
        return abs(prev.size - line.size) < 0.5 and not prev.text.endswith(SENTENCE_END)
    if prev.size > big or line.size > big:
        return False
    if prev.x1 < right - 1.2 * size or prev.x1 < 0.8 * prev.page_width:
        # The line stopped short of the margin (which is never left of 80% of the page): its paragraph ended there.
        return False
    if uses_indent:
        # Paragraphs start two characters in: an unindented line after a full one is its continuation.
        return not indent
    return not prev.text.endswith(SENTENCE_END)


def _glue(left: str, right: str) -> str:
    # Chinese has no spaces between words; only two Latin words need one.
    if left[-1:].isascii() and left[-1:].isalpha() and right[:1].isascii() and right[:1].isalpha():
        return f"{left} {right}"
    return left + right
