"""Hits → Answer record → text, through Jinja2 templates. Nothing here writes policy content:
every sentence a citizen reads is either quoted from the corpus or fixed template wording."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from .clock import district_today
from .corpus import Chunk, Corpus, Deadline, Document
from .documents.attribution import attribution, heading_states, order_by_document, related_lines
from .periods import lapsed
from .planner import Plan, Shown

_THIS_YEAR_RE = re.compile(r"(?<![0-9一二两三四五六七八九十几])年内")


@dataclass(frozen=True)
class MeasureAnswer:
    id: str
    number: int | None
    doc: str
    title: str
    section: str
    quote: str
    highlights: tuple[str, ...]  # sentences of `quote` that answer this question, verbatim, in order
    lead_units: tuple[str, ...]
    notes: tuple[str, ...]
    score: float
    # Which document the quote is from and how people cite it (GUIDE §3): 「第3条」, 「第五条」, 「申请材料」, a question.
    label: str = ""
    doc_title: str = ""
    doc_number: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Answer:
    """The answer contract of GUIDE §3; `to_dict()` is exactly what the CLI and HTTP return.

    `context_used` and `suggestions` travel with the record for the edges (the question log, the
    chat's chips) but are not part of the contract's dict.
    """

    question: str
    matched: bool
    kind: str
    measures: tuple[MeasureAnswer, ...]
    phone: str
    answer: str
    context_used: bool = False
    suggestions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        del d["context_used"], d["suggestions"]
        for m in d["measures"]:
            m["highlights"] = list(m["highlights"])
            m["lead_units"] = list(m["lead_units"])
            m["notes"] = list(m["notes"])
        d["measures"] = list(d["measures"])
        return d


@cache
def template_env(html: bool = False) -> jinja2.Environment:
    """The package's Jinja2 templates. Plain text (answers) is not escaped; HTML (the eval report)
    is, because questions are arbitrary text and some are injection attempts."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("assistant", "templates"),
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _fmt_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def issued_on(corpus: Corpus) -> str:
    """"2024年7月16日": when the primary document was issued (its cover date), for "本文件…印发"."""
    meta = corpus.primary_doc.meta
    day = meta.written or meta.published
    return _fmt_date(day) if day else "日期不详"


def validity_notes(chunk: Chunk, corpus: Corpus, today: dt.date) -> tuple[str, ...]:
    """Warnings a reader needs that the quote alone does not give: passed deadlines, "年内"."""
    doc = next(d for d in corpus.documents if d.meta.doc_id == chunk.doc)
    notes = [lapsed_note(dl) for dl in lapsed(chunk, today)]
    # "年内" alone means "this year"; "2年内" is a duration and needs no note.
    if _THIS_YEAR_RE.search(chunk.text) and doc.meta.written:
        notes.append(f"文中“年内”指文件印发当年,即{doc.meta.written.year}年。")
    if chunk.kind == "notice" and not doc.meta.get("有效性") and doc.meta.doc_id == corpus.primary:
        notes.append("原文“有效性”一栏未填写,文件是否仍在有效期内请电话咨询。")
    # A lapsed or repealed related rule stays findable, but never without saying so.
    if doc_note := doc.meta.lifecycle_note(today, corpus.titles):
        notes.insert(0, doc_note)
    return tuple(notes)


def lapsed_note(dl: Deadline) -> str:
    """The note for one passed deadline. It quotes the sentence that states it (without its
    closing 。), so that a reader — and the chat, which marks that sentence — can tell which part
    of the measure has passed; the rest of the measure may well be in force."""
    return f"“{dl.sentence.rstrip('。；;')}”所述期限已过({_fmt_date(dl.date)}到期),现行做法请以最新政策为准。"


@dataclass(frozen=True)
class KeyLine:
    """One line of the answer's opening: the measure it is about and what answers the question."""

    label: str  # "第3条", or "《其他文件》第3条" for a measure of a related document
    texts: tuple[str, ...]


@dataclass(frozen=True)
class DocBlock:
    """The measures of one document, quoted under that document's own title, number and phone."""

    title: str
    number: str
    phone: str
    dept: str
    measures: tuple[MeasureAnswer, ...]
    primary: bool


def _measure(shown: Shown, corpus: Corpus, today: dt.date) -> MeasureAnswer:
    c = shown.hit.chunk
    return MeasureAnswer(
        id=c.id,
        number=c.number if c.kind == "measure" else None,
        doc=c.doc,
        title=c.title,
        section=c.section,
        quote=c.text,
        highlights=shown.highlight.sentences,
        lead_units=c.lead_units,
        notes=validity_notes(c, corpus, today),
        score=round(shown.hit.score, 4),
        **attribution(c, corpus),
    )


def _short_label(chunk: Chunk, corpus: Corpus) -> str:
    own = chunk.cite
    if chunk.doc == corpus.primary:
        return own
    meta = _doc(corpus, chunk.doc).meta
    own = "" if chunk.kind == "notice" or meta.title in own else own  # the document's own heading cites the document
    return f"《{meta.title}》{f'({meta.number})' if meta.number else ''}{own}"


def _doc(corpus: Corpus, doc_id: str) -> Document:
    return next(d for d in corpus.documents if d.meta.doc_id == doc_id)


def _key_line(shown: Shown, m: MeasureAnswer, plan: Plan, corpus: Corpus) -> KeyLine | None:
    """What the question asked, first: the unit clause for "哪个部门", the validity note for
    "还能享受吗", the highlighted sentences otherwise, and a plain "文件中没有写明…" when the
    measure does not state the fact asked for."""
    texts: list[str] = []
    intent = plan.intent
    if intent.asks("department") and m.lead_units:
        texts.append("责任单位:" + "、".join(m.lead_units))
    if intent.asks("validity"):
        passed = [n for n in m.notes if "已过" in n]
        stated = [d.sentence for d in shown.hit.chunk.deadlines]
        if passed:
            texts.extend(passed)
        elif stated:
            texts.extend(dict.fromkeys(stated))
        else:
            doc = _doc(corpus, m.doc)
            blank = "" if doc.meta.get("有效性") else ",文件“有效性”一栏也未填写"
            texts.append(f"本条没有写明截止期限{blank},是否仍在执行请电话咨询。")
    if not texts or intent.facts:
        texts.extend(h for h in m.highlights if h not in texts)
    for aspect in () if heading_states(shown.hit.chunk, plan.question) else shown.highlight.not_stated:
        texts.append(f"文件中没有写明{aspect},请电话咨询。")
    if not texts:
        return None
    return KeyLine(_short_label(shown.hit.chunk, corpus), tuple(texts))


def suggestions(corpus: Corpus) -> tuple[str, ...]:
    """Starter questions for an empty chat and for the greeting (corpus/lexicon/examples.txt);
    the first measure titles per section when that file is missing."""
    found = _examples(corpus.root / "lexicon" / "examples.txt", corpus.fingerprint)
    if found:
        return found
    seen: dict[str, str] = {}
    for c in corpus.primary_doc.measures:
        seen.setdefault(c.section, c.title)
    return tuple(seen.values())


@cache
def _examples(path: Path, fingerprint: str) -> tuple[str, ...]:
    # Read once per corpus version (the fingerprint covers lexicon files), not on every answer.
    if not path.exists():
        return ()
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return tuple(ln for ln in lines if ln and not ln.startswith("#"))


def _blocks(measures: tuple[MeasureAnswer, ...], corpus: Corpus) -> tuple[DocBlock, ...]:
    order = list(dict.fromkeys(m.doc for m in measures))
    blocks = []
    for doc_id in order:
        meta = _doc(corpus, doc_id).meta
        blocks.append(
            DocBlock(
                title=meta.title,
                number=meta.number,
                phone=meta.phone,
                dept=meta.consult_dept,
                measures=tuple(m for m in measures if m.doc == doc_id),
                primary=doc_id == corpus.primary,
            )
        )
    return tuple(blocks)


def _same_number_elsewhere(plan: Plan, corpus: Corpus) -> tuple[str, ...]:
    """"第三条" cites the primary document; say which other documents have a 第3条 too."""
    out = []
    for cid in plan.retrieval.cited:
        chunk = corpus.chunk(cid)
        if chunk is None or chunk.kind != "measure" or chunk.doc != corpus.primary:
            continue
        for d in corpus.documents:
            if d.meta.doc_id != corpus.primary and any(c.number == chunk.number for c in d.measures):
                out.append(f"《{d.meta.title}》也有第{chunk.number}条;如需查看,请在问题中写明文件名称。")
    return tuple(out)


_TEMPLATES = {
    "answer": "answer.txt.j2",
    "no_match": "no_match.txt.j2",
    "greeting": "greeting.txt.j2",
    "clarify": "clarify.txt.j2",
}


@dataclass(frozen=True)
class Draft:
    """An answer before its text is rendered: the record and the template's context."""

    kind: str
    measures: tuple[MeasureAnswer, ...]
    context: dict[str, Any]


def _scope_notes(plan: Plan, measures: tuple[MeasureAnswer, ...], corpus: Corpus) -> tuple[str, ...]:
    """One line each for what the question assumed about place and time that the quote does not say:
    that it quotes the district's document (「青岛…」), and what it says about another year."""
    meta = corpus.primary_doc.meta
    issued = meta.written or meta.published
    notes = []
    if plan.chain_place and measures:
        notes.append(f"您问到“{plan.chain_place}”:以下引用的是{meta.issuer.removesuffix('人民政府办公室')}的《{meta.title}》。")
    for year in plan.years:
        if issued is None or year == issued.year:
            continue
        if year < issued.year:
            notes.append(f"您问的是{year}年:本文件{issued_on(corpus)}印发,不涉及{year}年的政策,那时的规定请电话咨询。")
        else:
            passed = [m for m in measures if any("已过" in n for n in m.notes)]
            tail = ";其中" + "、".join(f"第{m.number}条" for m in passed) + "写明的期限已过" if passed else ""
            notes.append(f"您问的是{year}年:本文件{issued_on(corpus)}印发,没有写明{year}年是否继续执行{tail},请以最新政策为准。")
    return tuple(notes)


def prepare(plan: Plan, corpus: Corpus, today: dt.date | None = None) -> Draft:
    """Everything the text is rendered from (the benchmark times this and `render` apart)."""
    today = today or district_today()
    meta = corpus.primary_doc.meta
    plan = order_by_document(plan, corpus, today)
    measures = tuple(_measure(s, corpus, today) for s in plan.shown)
    kind = plan.kind if measures or plan.kind != "answer" else "no_match"
    labels = {m.id: s.hit.chunk.label for m, s in zip(measures, plan.shown, strict=True)}
    key_lines = [_key_line(s, m, plan, corpus) for s, m in zip(plan.shown, measures, strict=True)]
    context = {
        "blocks": _blocks(measures, corpus),
        "labels": labels,
        "related": related_lines(measures, corpus),
        "primary_quoted": not measures or any(m.doc == corpus.primary for m in measures),
        "key_lines": [k for k in key_lines if k is not None],
        "elsewhere": _same_number_elsewhere(plan, corpus),
        "groups": plan.groups,
        "referral": plan.referral,
        "place": plan.place,
        "near": _near_miss(plan, corpus),
        "covered": _covered(corpus),
        "scope_notes": _scope_notes(plan, measures, corpus),
        "n_shown": len(measures),
        "doc_title": meta.title,
        "doc_number": meta.number,
        "phone": meta.phone,
        "dept": meta.consult_dept,
        "issued": issued_on(corpus),
        "thanks": any(w in plan.retrieval.expansion.normalized for w in ("谢", "thank")),
        "examples": suggestions(corpus)[:4],
        "n_measures": len(corpus.primary_doc.measures),
    }
    return Draft(kind, measures, context)


def _near_miss(plan: Plan, corpus: Corpus) -> str:
    """A close decline names the nearest measure as a question (「您是不是想问：第12条 …？」), so that
    the asker can say yes by asking about it; the record stays unmatched (GUIDE §3). Not for another
    place or a neighbouring service: there the referral is the answer."""
    r = plan.retrieval
    if plan.kind != "no_match" or plan.place or plan.referral or not r.near_miss or not r.hits:
        return ""
    chunk = r.hits[0].chunk
    label = _short_label(chunk, corpus)
    return f"{label} {chunk.title}" if chunk.kind == "measure" and chunk.title not in label else label


def _covered(corpus: Corpus) -> str:
    """The area the primary document covers, from its issuer: 青岛市城阳区人民政府办公室 → 青岛市城阳区."""
    return re.sub(r"(人民政府|政府)?(办公室|办公厅)?$", "", corpus.primary_doc.meta.issuer) or "本地"


def render(draft: Draft) -> str:
    return template_env().get_template(_TEMPLATES[draft.kind]).render(**draft.context).strip()


def compose(plan: Plan, corpus: Corpus, today: dt.date | None = None, follow: tuple[str, ...] = ()) -> Answer:
    draft = prepare(plan, corpus, today)
    return Answer(
        question=plan.question,
        matched=bool(draft.measures),
        kind=draft.kind,
        measures=draft.measures,
        phone=corpus.primary_doc.meta.phone,
        answer=render(draft),
        context_used=plan.context_used,
        suggestions=follow,
    )
