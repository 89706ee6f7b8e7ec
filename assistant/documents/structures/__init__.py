"""One module per structure, each turning a document's numbered lines into chunks by the document's own numbering.

    gongwen    公文 hierarchy 一、/（一）/1. (the primary document's house style, generalised)
    articles   条文: 第X章 / 第X节 / 第X条 (款 and 项 inside their 条)
    guide      办事指南: 事项名称 / 申请条件 / 申请材料 … as numbered, 【】, 「字段：」 or 「字段 | 值」 headings
    qa         政策问答 / 解读: 问：…答：…, Q1/A1, numbered questions ending in ？
    paragraphs anything else, one chunk per paragraph, with a warning

`detect(lines)` scores the text's own markers with every structure's `score` and picks the best; a structure module
is `NAME`, `score(lines) -> float` and `parse(lines, ctx) -> Parsed`. Adding a structure is adding a module here and
its name to `STRUCTURES`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .common import Context, Line, Parsed, StructureError

# Order breaks ties: the more specific form first.
STRUCTURES: dict[str, str] = {"条文": "articles", "办事指南": "guide", "问答": "qa", "公文": "gongwen", "段落": "paragraphs"}
# Below this score a structure's markers are too few to trust (one stray 「一、」 is not a 公文).
MIN_SCORE = 4.0


def module(name: str) -> ModuleType:
    if name not in STRUCTURES:
        raise StructureError(None, f"未知的文件结构“{name}”(可选:{'、'.join(STRUCTURES)})")
    return importlib.import_module(f".{STRUCTURES[name]}", __package__)


def scores(lines: list[Line]) -> dict[str, float]:
    return {name: module(name).score(lines) for name in STRUCTURES if name != "段落"}


def detect(lines: list[Line]) -> str:
    """The structure whose markers the text shows most; 段落 when none shows enough."""
    found = scores(lines)
    best = max(found, key=lambda n: found[n])  # dicts keep STRUCTURES' order, so ties go to the earlier one
    return best if found[best] >= MIN_SCORE else "段落"


def parse(lines: list[Line], ctx: Context, structure: str | None = None) -> Parsed:
    name = structure or detect(lines)
    return module(name).parse(lines, ctx)


__all__ = ["STRUCTURES", "Context", "Line", "Parsed", "StructureError", "detect", "module", "parse", "scores"]
