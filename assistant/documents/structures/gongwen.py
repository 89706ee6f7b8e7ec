"""公文 hierarchy (GB/T 9704): 「一、」 parts → 「（一）」 sections → 「1.」 items (「（1）」 stays inside its item).

The primary document's house style is this structure with two extras, both optional here: a metadata table printed
before the text (`字段 | 值 | 字段 | 值 |` rows) and a closing 「(责任单位:…按职责分工负责)」 on every item. The primary's
chunks keep the ids the rest of the project depends on (GUIDE §2): `notice`, `guiding`, `m1`…, `org1`…; an item whose
numbering restarts in each section gets `i<ordinal>` and is cited by its section and number.
"""

from __future__ import annotations

import datetime as dt
import re

from ...errors import CorpusError
from ..model import Chunk, ChunkKind, Deadline
from ..numerals import cn_to_int
from .common import Context, Line, Parsed, short_title

NAME = "公文"

# Both ASCII and full-width parentheses/dots occur in scraped government texts.
PART_RE = re.compile(r"^([一二三四五六七八九十]+)、(.+)$")
SECTION_RE = re.compile(r"^[(（]([一二三四五六七八九十]+)[)）](.+)$")
ITEM_RE = re.compile(r"^(\d{1,2})[.．、](?!\d)(.+)$")
# The unit clause closes every measure; the text itself may hold other parentheses ("(二期)").
UNITS_RE = re.compile(r"[(（]责任单位[:：](?P<units>[^()（）]+)[)）]\s*$")
_UNIT_SUFFIX_RE = re.compile(r"(按职责分工)?(牵头)?(负责|配合)$")
_UNIT_SPLIT_RE = re.compile(r"[、,，;；]")
_DATE_RE = re.compile(r"(\d{4})[-年/.](\d{1,2})[-月/.](\d{1,2})日?")
# Deadlines written into measures ("至2025年12月31日", "延长至2024年年底"): an answer must warn
# when they have passed, because a citizen cannot tell from the quote alone.
_DEADLINE_RE = re.compile(r"至(\d{4})年(?:(\d{1,2})月(\d{1,2})日|年?底)")
_SENTENCE_RE = re.compile(r"[^。！？；]+[。！？；]?")
# Keys only a metadata table has; a guide's 「申请条件 | …」 rows are its body, not metadata.
META_KEYS = ("发文字号", "索引号", "发文机关", "成文日期")


def _is_heading(text: str) -> bool:
    return bool(PART_RE.match(text) or SECTION_RE.match(text) or ITEM_RE.match(text))


def score(lines: list[Line]) -> float:
    parts = sum(1 for _, t in lines if PART_RE.match(t))
    sections = sum(1 for _, t in lines if SECTION_RE.match(t))
    items = sum(1 for _, t in lines if ITEM_RE.match(t))
    units = sum(1 for _, t in lines if UNITS_RE.search(t))
    return 2.0 * parts + sections + items + units


def split_units(raw: str) -> tuple[str, ...]:
    units = [u.strip() for u in _UNIT_SPLIT_RE.split(raw)]
    units[-1] = _UNIT_SUFFIX_RE.sub("", units[-1]).strip()
    return tuple(u for u in units if u)


def deadlines(text: str) -> tuple[Deadline, ...]:
    found = []
    for sentence in _SENTENCE_RE.findall(text):
        for m in _DEADLINE_RE.finditer(sentence):
            year = int(m[1])
            date = dt.date(year, int(m[2]), int(m[3])) if m[2] else dt.date(year, 12, 31)
            found.append(Deadline(date=date, phrase=m[0], sentence=sentence.strip()))
    return tuple(found)


def _meta_cells(line: str) -> list[tuple[str, str]]:
    # "k | v | k2 | v2 |" and "k | v |": a trailing "|" leaves one empty cell to drop.
    cells = [c.strip() for c in line.split("|")]
    if len(cells) % 2 == 1 and cells[-1] == "":
        cells = cells[:-1]
    if len(cells) % 2:
        raise ValueError("元数据行的单元格数目不是偶数")
    return [(cells[i], cells[i + 1]) for i in range(0, len(cells), 2)]


def metadata_table(lines: list[Line], path: str) -> tuple[dict[str, str], int]:
    """The leading `字段 | 值` table (printed twice in scraped copies) and the index of the first line after it.

    A table that names none of `META_KEYS` is not metadata (a guide's field rows), so nothing is taken."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(lines) and "|" in lines[pos][1]:
        n, ln = lines[pos]
        try:
            cells = _meta_cells(ln)
        except ValueError as exc:
            if not fields:
                return {}, 0
            raise CorpusError(path, n, str(exc)) from None
        for key, value in cells:
            # The table is printed twice; a disagreement means a damaged scrape.
            if key in fields and fields[key] != value:
                raise CorpusError(path, n, f"元数据“{key}”前后不一致: {fields[key]!r} ≠ {value!r}")
            fields.setdefault(key, value)
        pos += 1
    if not any(k in fields for k in META_KEYS):
        return {}, 0
    return fields, pos


def parse(lines: list[Line], ctx: Context) -> Parsed:
    path = ctx.path
    fields, pos = metadata_table(lines, path)

    # Cover: everything up to the first top-level part (or, in a document without parts, its first heading).
    has_parts = any(PART_RE.match(t) for _, t in lines[pos:])
    starts = PART_RE.match if has_parts else _is_heading
    cover: list[Line] = []
    while pos < len(lines) and not starts(lines[pos][1]):
        cover.append(lines[pos])
        pos += 1
    if pos == len(lines):
        raise CorpusError(path, None, "找不到正文的编号标题(如“一、指导思想”)")
    title_m = re.search(r"《(.+?)》", "".join(ln for _, ln in cover))
    candidates = [ln for _, ln in cover if "。" not in ln and "," not in ln and not _DATE_RE.search(ln)]
    title = title_m[1] if title_m else (candidates[-1] if candidates else "")
    if ctx.prefix and not title_m:
        # A related 通知 states its title first; the primary's house style (above) puts it last in the cover.
        title = next((ln for _, ln in cover if len(ln) <= 60 and not re.search(r"[。,，：:]", ln) and not _DATE_RE.search(ln)), title)

    chunks: list[Chunk] = []
    if cover or fields:
        # Empty fields (the source leaves 有效性 blank) are said to be blank rather than filled with a guess.
        meta_text = "\n".join(f"{k}:{v or '原文未填写'}" for k, v in fields.items())
        text = "\n".join(ln for _, ln in cover) + ("\n" + meta_text if fields else "")
        chunks.append(
            Chunk(
                id=ctx.cid("notice"),
                doc=ctx.doc_id,
                kind="notice",
                number=None,
                title=f"关于印发《{title}》的通知" if title_m else (title or ctx.doc_id),
                section="通知及文件信息",
                text=text,
                lead_units=(fields["政策咨询部门"],) if fields.get("政策咨询部门") else (),
                line=cover[0][0] if cover else lines[0][0],
            )
        )

    body = lines[pos:]
    # A damaged copy drops one item's unit clause: when the document uses the clause, every item must have it.
    blocks = []
    i = 0
    while i < len(body):
        j = i + 1
        while j < len(body) and not _is_heading(body[j][1]):
            j += 1
        blocks.append((body[i][0], body[i][1], "".join(x for _, x in body[i:j])))
        i = j
    with_units = any(ITEM_RE.match(ln) and UNITS_RE.search(block) for _, ln, block in blocks)
    restarts = _numbering_restarts(blocks)

    part = part_heading = section = ""
    part_no = section_no = 0
    expected = 1
    ordinal = 0
    for k, (n, ln, block) in enumerate(blocks):
        if m := PART_RE.match(ln):
            part, part_heading, section = m[2].strip(), f"{m[1]}、{m[2].strip()}", ""
            part_no, section_no = cn_to_int(m[1]) or 0, 0
            rest = block[len(ln) :]
            if rest:
                kind: ChunkKind = "guiding" if "指导思想" in part else "part"
                cid = "guiding" if kind == "guiding" else f"part{part_no}"
                ref = "" if not ctx.prefix else part_heading
                chunks.append(Chunk(ctx.cid(cid), ctx.doc_id, kind, None, part, part_heading, rest, (), n, ref=ref))
            continue
        if m := SECTION_RE.match(ln):
            num = cn_to_int(m[1])
            section_no = num or 0
            heading, _, _ = m[2].partition("。")
            # Under 组织保障 the "(一)" items are paragraphs to quote; elsewhere they head sections, unless they
            # carry text of their own and no numbered items follow.
            if "组织" in part or "保障措施" in part:
                chunks.append(Chunk(ctx.cid(f"org{num}"), ctx.doc_id, "org", num, heading, part_heading, block, (), n))
            elif ctx.prefix and (block != ln or "。" in m[2] or len(m[2]) > 24) and not _next_is_item(blocks, k):
                ref = f"（{m[1]}）{short_title(m[2])}"
                chunks.append(
                    Chunk(ctx.cid(f"s{part_no}-{num}"), ctx.doc_id, "item", num, short_title(m[2]), part_heading,
                          block[block.index(m[2]) :], (), n, deadlines(block), ref=ref)  # fmt: skip
                )
            else:
                section = block
            continue
        m = ITEM_RE.match(ln)
        assert m is not None
        number = int(m[1])
        if number != expected and not (restarts and number == 1):
            raise CorpusError(path, n, f"措施编号应为 {expected},实际为 {number}")
        expected = number + 1
        ordinal += 1
        if not section and not ctx.prefix:
            raise CorpusError(path, n, f"第{number}条之前没有分节标题(如“(一)…”)")
        units_m = UNITS_RE.search(block)
        if with_units and not units_m:
            raise CorpusError(path, n, f"第{number}条缺少结尾的“(责任单位:…)”")
        units = split_units(units_m["units"]) if units_m else ()
        if units_m and not units:
            raise CorpusError(path, n, f"第{number}条的责任单位为空")
        body_text = block[m.start(2) : units_m.start() if units_m else len(block)].strip()
        measure_title = body_text.split("。", 1)[0]
        if restarts:
            where = section.split("。")[0] if section else part_heading
            chunks.append(
                Chunk(ctx.cid(f"i{ordinal}"), ctx.doc_id, "item", number, short_title(measure_title), section or part_heading,
                      body_text, units, n, deadlines(body_text), ref=f"{where} {number}.")  # fmt: skip
            )
        else:
            chunks.append(
                Chunk(
                    id=ctx.cid(f"m{number}"),
                    doc=ctx.doc_id,
                    kind="measure",
                    number=number,
                    title=measure_title,
                    section=section or part_heading,
                    text=body_text,
                    lead_units=units,
                    line=n,
                    deadlines=deadlines(body_text),
                )
            )
    if not ctx.prefix and not any(c.kind == "measure" for c in chunks):
        raise CorpusError(path, None, "没有找到任何编号措施(如“1.…”)")
    if not any(c.kind != "notice" for c in chunks):
        raise CorpusError(path, None, "编号标题下没有正文")
    return Parsed(NAME, tuple(chunks), title=title, fields=tuple(fields.items()))


def _next_is_item(blocks: list[tuple[int, str, str]], k: int) -> bool:
    return k + 1 < len(blocks) and bool(ITEM_RE.match(blocks[k + 1][1]))


def _numbering_restarts(blocks: list[tuple[int, str, str]]) -> bool:
    """Whether items are numbered afresh in each section (1. 2. … 1. 2.) rather than through the whole document."""
    numbers = [int(m[1]) for _, ln, _ in blocks if (m := ITEM_RE.match(ln))]
    return numbers.count(1) > 1
