"""FAQ files: one question a line, validated before any question is asked.

An FAQ file is JSON Lines, one question a line::

    {"q": "送外卖的骑手有没有保险补贴？", "expect": ["m3"], "must": ["100元"], "kind": "colloquial"}

``expect`` lists the acceptable chunk ids (empty for ``oos`` and ``greeting``), ``must`` substrings
the rendered answer has to contain, ``kind`` one of :data:`KINDS`. A bad line is a FaqError naming
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
)
# Kinds whose questions the policy does not answer with a measure; all others need ``expect``.
_NO_EXPECT_KINDS = frozenset({"oos", "greeting"})
_FIELDS = ("q", "expect", "must", "kind")
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

    @property
    def target(self) -> str:
        """What a correct answer is: "answer" (one of expect), "decline" or "greeting"."""
        if self.expect:
            return "answer"
        return "greeting" if self.kind == "greeting" else "decline"

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
    unknown = sorted(set(obj) - set(_FIELDS))
    if unknown:  # a typo such as "expects" would otherwise silently drop a field
        raise FaqError(path, line, f"未知字段 {', '.join(unknown)}(只允许 {', '.join(_FIELDS)})")
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
    if kind in _NO_EXPECT_KINDS and expect:
        raise FaqError(path, line, f"kind 为 {kind} 的问题 expect 应为空列表")
    if kind not in _NO_EXPECT_KINDS and not expect:
        raise FaqError(path, line, f'kind 为 {kind} 的问题需要 expect(可接受的条目编号);政策外的问题请用 kind "oos"')
    return FaqItem(q=q, expect=expect, must=must, kind=kind, source=path, line=line)


def check_ids(items: Iterable[FaqItem], known_ids: Iterable[str]) -> None:
    """Raise FaqError for the first item expecting a chunk id the corpus does not have."""
    known = list(known_ids)
    known_set = set(known)
    for item in items:
        for cid in item.expect:
            if cid not in known_set:
                raise FaqError(
                    item.source, item.line, f"expect 中的 {cid!r} 不是语料中的条目编号(可用: {', '.join(known)})"
                )


def load_faq(path: str | Path, known_ids: Iterable[str] | None = None) -> tuple[FaqItem, ...]:
    """Read and validate an FAQ file; with known_ids (e.g. ``[c.id for c in bot.chunks]``) also
    check that every expected id exists. Blank lines are skipped; duplicate questions are errors
    (they would count twice)."""
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
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        item = parse_faq_line(raw, p, n)
        key = item.q.strip()
        if key in seen:
            raise FaqError(p, n, f"问题与第 {seen[key]} 行重复")
        seen[key] = n
        items.append(item)
    if not items:
        raise FaqError(p, None, "文件中没有问题")
    if known_ids is not None:
        check_ids(items, known_ids)
    return tuple(items)
