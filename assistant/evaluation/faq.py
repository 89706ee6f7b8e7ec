"""FAQ files: one question a line, validated before any question is asked.

An FAQ file is JSON Lines, one question a line::

    {"q": "送外卖的骑手有没有保险补贴？", "expect": ["m3"], "must": ["100元"], "kind": "colloquial"}

``expect`` lists the acceptable chunk ids (empty for the kinds in :data:`NO_EXPECT_KINDS`), ``must``
substrings the rendered answer has to contain, ``kind`` one of :data:`KINDS`. Two optional keys:
``context`` (ids of the previous answer: the question is a turn of a conversation) and ``expect_all``
(ids that must *all* be listed: group and two-part questions). A bad line is a FaqError naming
``file:line``, so that a long run never starts on a file that would be scored wrongly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import PolicyAssistantError

KINDS: tuple[str, ...] = (
    "direct",
    "colloquial",
    "paraphrase",
    "term",
    "fact",
    "unit",
    "number",
    "meta",
    "group",
    "traditional",
    "typo",
    "oos",
    "greeting",
    # issue 8: conversations and lists
    "followup",
    "clarify",
    "multi",
    # issue 10: questions as typed into a search box
    "place_other",
    "place_chain",
    "year",
    "latest",
    "keywords",
    "neighbour",
    "not_stated",
)
# Kinds whose questions must not be answered with a measure; they have an empty ``expect`` (and
# only they do). Declined: out of scope, another place, a neighbouring public service.
DECLINE_KINDS = frozenset({"oos", "place_other", "neighbour"})
NO_EXPECT_KINDS = DECLINE_KINDS | {"greeting", "clarify"}
_FIELDS = ("q", "expect", "must", "kind")
_OPTIONAL_FIELDS = ("context", "expect_all")
# Same limit as the service (check_question); kept here so loading needs no service import.
MAX_QUESTION_CHARS = 500

KIND_LABELS: Mapping[str, str] = {
    "direct": "原文直问",
    "colloquial": "口语",
    "paraphrase": "换说法",
    "term": "术语",
    "fact": "数字事实",
    "unit": "责任单位",
    "number": "条款编号",
    "meta": "文件信息",
    "group": "人群综合",
    "traditional": "繁体",
    "typo": "错别字",
    "oos": "政策外",
    "greeting": "问候",
    "followup": "追问",
    "clarify": "无上文追问",
    "multi": "一问两事",
    "place_other": "外地",
    "place_chain": "青岛/山东",
    "year": "年份",
    "latest": "最新",
    "keywords": "关键词",
    "neighbour": "相邻事务",
    "not_stated": "文件未写明",
}


class FaqError(PolicyAssistantError):
    """An FAQ file cannot be used. Names the file and, where known, the line."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"评测集有误 {where}: {reason}")


# -- the FAQ file -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaqItem:
    q: str
    expect: tuple[str, ...]
    must: tuple[str, ...]
    kind: str
    source: str = ""  # the file as given, for file:line in failure lists
    line: int = 0
    context: tuple[str, ...] = ()  # ids of the previous answer; asked as a follow-up when set
    expect_all: tuple[str, ...] = ()  # ids that must all be listed (group / two-part questions)

    @property
    def target(self) -> str:
        """What a correct answer is: "answer" (one of expect), "decline", "greeting" or "clarify"."""
        if self.expect:
            return "answer"
        if self.kind in ("greeting", "clarify"):
            return self.kind
        return "decline"

    @property
    def where(self) -> str:
        return f"{Path(self.source).name}:{self.line}" if self.source else f"#{self.line}"


def _str_list(value: object, name: str, path: str, line: int) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise FaqError(path, line, f"{name} 应为非空字符串的列表,实际是 {json.dumps(value, ensure_ascii=False)}")
    if len(set(value)) != len(value):
        raise FaqError(path, line, f"{name} 中有重复项")
    return tuple(value)


def parse_faq_line(text: str, path: str, line: int) -> FaqItem:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FaqError(path, line, f"不是有效的 JSON({exc.msg},第 {exc.colno} 列)") from exc
    if not isinstance(obj, dict):
        raise FaqError(path, line, '每行应是一个 JSON 对象 {"q", "expect", "must", "kind"}')
    missing = [k for k in _FIELDS if k not in obj]
    if missing:
        raise FaqError(path, line, f"缺少字段 {', '.join(missing)}")
    unknown = sorted(set(obj) - set(_FIELDS) - set(_OPTIONAL_FIELDS))
    if unknown:  # a typo such as "expects" would otherwise silently drop a field
        allowed = ", ".join(_FIELDS + _OPTIONAL_FIELDS)
        raise FaqError(path, line, f"未知字段 {', '.join(unknown)}(只允许 {allowed})")
    q = obj["q"]
    if not isinstance(q, str) or not q.strip():
        raise FaqError(path, line, "q(问题)不能为空")
    if len(q.strip()) > MAX_QUESTION_CHARS:
        raise FaqError(path, line, f"q(问题)超过 {MAX_QUESTION_CHARS} 个字")
    kind = obj["kind"]
    if kind not in KINDS:
        raise FaqError(path, line, f"未知的 kind {kind!r}(可用: {', '.join(KINDS)})")
    expect = _str_list(obj["expect"], "expect", path, line) if obj["expect"] != [] else ()
    must = _str_list(obj["must"], "must", path, line) if obj["must"] != [] else ()
    if kind in NO_EXPECT_KINDS and expect:
        raise FaqError(path, line, f"kind 为 {kind} 的问题 expect 应为空列表")
    if kind not in NO_EXPECT_KINDS and not expect:
        raise FaqError(path, line, f'kind 为 {kind} 的问题需要 expect(可接受的条目编号);政策外的问题请用 kind "oos"')
    # Optional keys: present means non-empty, so that `"context": []` is not mistaken for a
    # follow-up that silently lost its context.
    context = _str_list(obj["context"], "context", path, line) if "context" in obj else ()
    expect_all = _str_list(obj["expect_all"], "expect_all", path, line) if "expect_all" in obj else ()
    if "context" in obj and not context:
        raise FaqError(path, line, "context 不能为空列表(没有上文就不要写 context)")
    if "expect_all" in obj and not expect_all:
        raise FaqError(path, line, "expect_all 不能为空列表")
    if kind == "followup" and not context:
        raise FaqError(path, line, "kind 为 followup 的问题需要 context(上一轮答复的条目编号)")
    if kind == "clarify" and context:
        raise FaqError(path, line, "kind 为 clarify 的问题是没有上文的追问,不能有 context")
    if kind == "multi" and not expect_all:
        raise FaqError(path, line, "kind 为 multi 的问题需要 expect_all(每一部分的条目编号)")
    if kind in NO_EXPECT_KINDS and expect_all:
        raise FaqError(path, line, f"kind 为 {kind} 的问题不应作答,不能有 expect_all")
    return FaqItem(
        q=q, expect=expect, must=must, kind=kind, source=path, line=line, context=context, expect_all=expect_all
    )


def check_ids(items: Iterable[FaqItem], known_ids: Iterable[str]) -> None:
    """Raise FaqError for the first item naming a chunk id (in expect, expect_all or context) that
    the corpus does not have."""
    known = list(known_ids)
    known_set = set(known)
    for item in items:
        for name, ids in (("expect", item.expect), ("expect_all", item.expect_all), ("context", item.context)):
            for cid in ids:
                if cid not in known_set:
                    raise FaqError(
                        item.source, item.line, f"{name} 中的 {cid!r} 不是语料中的条目编号(可用: {', '.join(known)})"
                    )


def load_faq(path: str | Path, known_ids: Iterable[str] | None = None) -> tuple[FaqItem, ...]:
    """Read and validate an FAQ file; with known_ids (e.g. ``[c.id for c in bot.chunks]``) also
    check that every expected id exists. Blank lines are skipped; duplicate questions are errors
    (they would count twice) — the same words with another context are another question: 「怎么申请？」
    after m3 and without any context test different things."""
    p = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FaqError(p, None, "文件不存在") from exc
    except UnicodeDecodeError as exc:
        raise FaqError(p, None, f"不是 UTF-8 编码的文本(第 {exc.start} 字节)") from exc
    except OSError as exc:
        raise FaqError(p, None, f"无法读取: {exc.strerror or exc}") from exc
    items: list[FaqItem] = []
    seen: dict[tuple[str, tuple[str, ...]], int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        item = parse_faq_line(raw, p, n)
        key = (item.q.strip(), item.context)
        if key in seen:
            raise FaqError(p, n, f"问题与第 {seen[key]} 行重复")
        seen[key] = n
        items.append(item)
    if not items:
        raise FaqError(p, None, "文件中没有问题")
    if known_ids is not None:
        check_ids(items, known_ids)
    return tuple(items)
