"""Chips that follow an answer: the natural next questions about the measures just shown.

Each is offered only where the measure has such a fact (an amount, a deadline, an application
step), so a tap never leads to "文件中没有写明". Then the other measures of the same group or
section, which the citizen may not know to ask about. The chat sends a tapped chip with the
answer's measure ids as context, so the elliptical wording ("补贴标准是多少?") is understood.
"""

from __future__ import annotations

from .corpus import Corpus
from .groups import GroupIndex
from .highlight import fact_of
from .intent import IntentReader
from .planner import Plan

MAX_SUGGESTIONS = 4

# (intent, chip wording). The wording is the question a citizen would type next; each must read
# as elliptical to IntentReader, which a test checks.
NEXT_QUESTIONS = (
    ("department", "找哪个部门办?"),
    ("amount", "补贴标准是多少?"),
    ("validity", "现在还能享受吗?"),
    ("how", "怎么申请?"),
)


def follow_ups(plan: Plan, corpus: Corpus, intents: IntentReader, groups: GroupIndex) -> tuple[str, ...]:
    if plan.kind != "answer" or not plan.shown:
        return ()
    first = plan.shown[0].hit.chunk
    out: list[str] = []
    for name, wording in NEXT_QUESTIONS:
        if plan.intent.asks(name):
            continue  # just answered
        if name == "department":
            has = bool(first.lead_units)
        elif name == "validity":
            has = bool(first.deadlines)
        elif name == "how":
            has = any("申请" in s for s in first.sentences)
        else:
            has = fact_of(first, intents, name)
        if has:
            out.append(wording)
    shown_ids = {s.hit.chunk.id for s in plan.shown}
    # Other measures for the same group first (who the citizen is), then the same section.
    related = [cid for g in groups.groups if first.id in g.measures and g.name not in plan.groups for cid in g.measures]
    # Over the first chunk's own document, not the whole library: a question's cost must not grow with it.
    own = corpus.document(first.doc)
    related += [
        c.id
        for c in (own.chunks if own else ())
        if c.kind == "measure" and c.section == first.section and c.doc == first.doc
    ]
    for cid in dict.fromkeys(related):
        if len(out) >= MAX_SUGGESTIONS:
            break
        chunk = corpus.chunk(cid)
        if chunk is not None and cid not in shown_ids and chunk.doc == corpus.primary:
            out.append(f"第{chunk.number}条讲了什么?")
    return tuple(out[:MAX_SUGGESTIONS])


__all__ = ["MAX_SUGGESTIONS", "NEXT_QUESTIONS", "follow_ups"]
