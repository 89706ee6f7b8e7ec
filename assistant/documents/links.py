"""Which related rule implements which measure of the primary document — declared or computed from shared phrases.

Declared: a sidecar's `implements = ["m3"]`. Computed: the rule's title, stripped of place and document-type words
(「城阳区」, 「管理办法」, 「办事指南」, 「（示例）」), shares a phrase of at least `MIN_PHRASE` characters with a measure's
text that only one measure contains — a phrase every measure uses (「就业服务」) links nothing.
The chunk cited is the rule's chunk whose wording overlaps the measure's most (character bigrams).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Chunk, Corpus, Document

MIN_PHRASE = 4
MAX_SPREAD = 1
_TITLE_NOISE_RE = re.compile(
    r"[（(]示例[)）]|\d{4}年度?|^(青岛市)?城阳区|^关于(开展|印发|做好)?|"
    r"(实施|管理|暂行|试行)?(办法|细则|规定|条例|办事指南|服务指南|指南|政策问答|问答|解读|的通知|通知|方案)$"
)


@dataclass(frozen=True)
class RuleLink:
    measure: str  # primary measure id
    doc: str
    chunk: str  # the related rule's chunk to cite
    declared: bool


def _core(title: str) -> str:
    prev = None
    while prev != title:
        prev, title = title, _TITLE_NOISE_RE.sub("", title).strip()
    return title


def _longest_shared(a: str, b: str) -> str:
    """The longest substring of `a` that occurs in `b` (titles are short: quadratic is fine)."""
    best = ""
    for i in range(len(a)):
        for j in range(i + len(best) + 1, len(a) + 1):
            if a[i:j] in b:
                best = a[i:j]
            else:
                break
    return best


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _best_chunk(doc: Document, measure: Chunk) -> Chunk:
    grams = _bigrams(measure.text)
    # Shared wording, damped by length so that neither a one-line field nor the longest article wins by size alone.
    return max(doc.chunks, key=lambda c: (len(_bigrams(c.text) & grams) / (len(_bigrams(c.text)) or 1) ** 0.5, -c.line))


def _computed(doc: Document, measures: tuple[Chunk, ...]) -> list[Chunk]:
    core = _core(doc.meta.title)
    shared = {m.id: _longest_shared(core, m.text) for m in measures}
    found = []
    for m in measures:
        phrase = shared[m.id]
        if len(re.sub(r"[^\u4e00-\u9fa5]", "", phrase)) >= MIN_PHRASE and sum(phrase in x.text for x in measures) <= MAX_SPREAD:
            found.append((len(phrase), m))
    if not found:
        return []
    longest = max(n for n, _ in found)
    return [m for n, m in found if n == longest]


# Computed once per corpus, keyed by its fingerprint: hashing the frozen Corpus walks every chunk (7 ms a question with
# 1,000 documents), and a cache keyed by the object would keep every corpus ever loaded alive.
_LINKS: dict[str, dict[str, tuple[RuleLink, ...]]] = {}


def rule_links(corpus: Corpus) -> dict[str, tuple[RuleLink, ...]]:
    links = _LINKS.get(corpus.fingerprint)
    if links is None:
        links = _links(corpus)
        if len(_LINKS) >= 4:
            _LINKS.clear()
        _LINKS[corpus.fingerprint] = links
    return links


def _links(corpus: Corpus) -> dict[str, tuple[RuleLink, ...]]:
    measures = corpus.primary_doc.measures
    by_id = {m.id: m for m in measures}
    out: dict[str, list[RuleLink]] = {}
    for doc in corpus.documents:
        if doc.meta.doc_id == corpus.primary or not doc.chunks:
            continue
        declared = [by_id[i] for i in doc.meta.implements if i in by_id]
        targets = declared or _computed(doc, measures)
        for m in targets:
            out.setdefault(m.id, []).append(RuleLink(m.id, doc.meta.doc_id, _best_chunk(doc, m).id, bool(declared)))
    return {k: tuple(v) for k, v in out.items()}
