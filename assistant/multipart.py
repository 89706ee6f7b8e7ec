"""Two-part questions: 「创业担保贷款和企业开办分别找哪个部门？」 asks two things at once.

Only the split is decided here; whether each part has evidence of its own is retrieval's call
(the planner keeps a split only when every part is matched, and to different measures).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .text import normalize

# "和/与/跟/及/、" also join words inside one topic (退役军人和妇女, 企业跟职业学校合作, 家政、养老),
# and a comma often separates the clauses of one question (「我是去年毕业的，现在打零工，有补贴吗」).
# So a question splits at them only when it says "each" (分别/各…) or adds a second question
# (还有/另外/又…); otherwise only into clauses that each ask something themselves
# (「…贷款利率多少？骑手意外险补多少钱？」, 「青年社区建几个、服务站建几家」).
# "都", "又", "同时" (and "各" other than right before the verb) are too common in one-topic questions (「一个员工都没裁」, 「各街道」) to
# mark a second question; "还有没有…" asks about one thing.
# "各" marks "each" only right before what is asked of each (「A、B各找哪个部门」), not in 各街道/各类.
_EACH_VERB = r"各(?=找|是|在|有|要|能|需|多少|怎么|归|由|补|给|领)"
# 「A和B，各是干啥的」: the comma before 各/都 still joins them.
_EACH_RE = re.compile(rf"分别|各自|两个|两项|两种|这两|这俩|(?:和|与|跟|及|、)[^，,。？?]{{1,12}}[，,]?(?:都|{_EACH_VERB})")
_ADDITIVE = r"以及|还有(?!没有|吗|啥|什么)|另外|此外|(?:顺便|还想|再)问(?:一?下)?"
_ADDITIVE_RE = re.compile(_ADDITIVE)
_JOIN_RE = re.compile(_ADDITIVE + r"|和|与|跟|及|、|，|,|；|;|？|\?|。|！|!")
_EACH_WORD_RE = re.compile(rf"分别|各自|都|{_EACH_VERB}")
_CLAUSE_RE = re.compile(r"、|，|,|；|;|？|\?|。|！|!")
_SHARED_RE = re.compile(r"分别|各自|各|都|这两|这俩|两者|二者|它们|这些")
# A letter or a long post first says who is writing and why (「尊敬的领导您好，本人是跑外卖的骑手，想问两件事：」);
# those clauses ask nothing and belong to no part. Enumerators (一是…二是…) open a part, they are not of it.
_SENTENCE_RE = re.compile(r"[，,。；;！!？?:：]")
_ENUMERATOR_RE = re.compile(r"^(?:[一二三四]是|其[一二三四]|首先|其次|再者)[,，:：]?")
MIN_PART_CHARS = 2
MAX_PARTS = 4


def _enumerated(text: str) -> str:
    """「一是…二是…」 said without a comma (a voice transcript) still names two parts."""
    return re.sub(r"(?<=[^，,:：])(?=[二三四]是)", "，", text) if "一是" in text else text


def _without_preamble(text: str, asks: Callable[[str], bool]) -> str:
    """`text` from its first clause that asks something on: a clause before it is the writer's introduction.
    Unchanged when no clause asks (the question is one topic said over several clauses)."""
    clauses = [c.strip() for c in _SENTENCE_RE.split(text)]
    first = next((i for i, c in enumerate(clauses) if c and asks(c)), None)
    if not first:
        return text
    return "，".join(c for c in clauses[first:] if c)


def split_parts(question: str, asks: Callable[[str], bool] = lambda _: False) -> tuple[str, ...]:
    """The parts of a question, in the order asked; one part when it does not split.

    `asks` tells whether a clause is a question of its own (the intent reader knows the cues).
    The tail after the last part ("…分别找哪个部门") stays on the last part; the planner reads
    what a part asks from the part, or from the whole question when the part asks nothing.
    """
    text = _enumerated(normalize(question).rstrip("？?。.!！ "))
    asked = _without_preamble(text, asks)
    if asked != text:
        # Only when what follows the introduction still holds two questions: 「工匠学院和技能大师工作室，各是干啥的」
        # names its parts before the clause that asks.
        parts = _split(asked, asks)
        if len(parts) >= 2:
            return parts
    return _split(text, asks)


def _split(text: str, asks: Callable[[str], bool]) -> tuple[str, ...]:
    """`text` at its joins ("each"/additive questions) or at its clauses when every clause asks."""
    if _EACH_RE.search(text) or _ADDITIVE_RE.search(text):
        # A clause that opens with "each" or "these two" (「…，分别是文件哪一条说的」, 「…，这两样俺们村的人都能报吗」) is
        # the question asked of every part, not a part: the planner reads it from the whole question.
        pieces = [
            _EACH_WORD_RE.sub("", _ADDITIVE_RE.sub("", p)).strip()
            for p in _JOIN_RE.split(text)
            if not _SHARED_RE.match(p.strip())
        ]
        parts = tuple(p for p in pieces if len(p) >= MIN_PART_CHARS)
    else:
        pieces = [_ENUMERATOR_RE.sub("", p.strip()) for p in _CLAUSE_RE.split(text)]
        parts = tuple(p for p in pieces if len(p) >= MIN_PART_CHARS)
        if not all(asks(p) for p in parts):
            return (text,)
    if len(parts) < 2 or len(parts) > MAX_PARTS:
        return (text,)
    return parts


__all__ = ["split_parts"]
