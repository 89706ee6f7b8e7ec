"""Two-part questions: 「创业担保贷款和企业开办分别找哪个部门？」 asks two things at once.

Only the split is decided here; whether each part has evidence of its own is retrieval's call
(the planner keeps a split only when every part is matched, and to different measures).
"""

from __future__ import annotations

import re

from .text import normalize

# Conjunctions that join the topics of a two-part question. Commas do not: a citizen's one question
# is often several clauses (「我是去年毕业的，现在打零工，有社保补贴吗」).
_JOIN_RE = re.compile(r"以及|还有|另外|和|与|跟|及|、")
# "和/与/跟/及/、" also join words inside one topic (退役军人和妇女, 企业跟职业学校合作, 家政、养老),
# so they split a question only when it says "each" (分别/各…); "还有/以及/另外" add a second
# question by themselves. Either way retrieval must confirm that the parts differ.
_EACH_RE = re.compile(r"分别|各自|各|都|两个|两项|两种")
_ADDITIVE_RE = re.compile(r"以及|还有|另外")
MIN_PART_CHARS = 2
MAX_PARTS = 4


def split_parts(question: str) -> tuple[str, ...]:
    """The parts of a question, in the order asked; one part when it does not split.

    The question's tail after the last part ("…分别找哪个部门") is what each part asks, so it
    stays on the last part and the planner reads the intent from the whole question.
    """
    text = normalize(question).rstrip("？?。.!！ ")
    if not (_EACH_RE.search(text) or _ADDITIVE_RE.search(text)):
        return (text,)
    pieces = [p.strip() for p in _JOIN_RE.split(text)]
    pieces = [_EACH_RE.sub("", p).strip() for p in pieces]
    parts = tuple(p for p in pieces if len(p) >= MIN_PART_CHARS)
    if len(parts) < 2 or len(parts) > MAX_PARTS:
        return (text,)
    return parts


__all__ = ["split_parts"]
