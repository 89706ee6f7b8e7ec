"""公文 hierarchy beyond the primary's house style: no metadata table, no 责任单位 clause, numbering per section."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus import read_document
from assistant.documents import structures
from assistant.documents.structures.common import Context
from assistant.errors import CorpusError

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "structures" / "chunfeng-tongzhi.txt"


def lines(text: str) -> list[tuple[int, str]]:
    return [(n, t.strip()) for n, t in enumerate(text.splitlines(), start=1) if t.strip()]


def test_notice_without_table_or_unit_clauses() -> None:
    doc = read_document(FIXTURE)
    assert doc.meta.structure == "公文"
    labels = [(c.id, c.cite) for c in doc.chunks]
    assert labels == [
        ("chunfeng-tongzhi:notice", "关于开展2025年“春风行动”就业服务活动的通知（示例）"),
        ("chunfeng-tongzhi:part1", "一、活动时间"),
        ("chunfeng-tongzhi:part2", "二、服务对象"),
        ("chunfeng-tongzhi:s3-1", "（一）集中招聘"),
        ("chunfeng-tongzhi:s3-2", "（二）送岗上门"),
        ("chunfeng-tongzhi:part4", "四、工作要求"),
    ]
    assert doc.chunks[3].section == "三、活动内容"
    assert all("2025年1月20日" not in c.text for c in doc.chunks)  # the 落款 is metadata, not a quote


def test_items_numbered_afresh_in_each_section() -> None:
    text = "某工作方案（示例）\n一、工作任务\n（一）招聘\n1.办招聘会。\n2.发岗位。\n（二）培训\n1.办培训班。\n"
    parsed = structures.parse(lines(text), Context("w", "w.txt", "w:"))
    assert [(c.id, c.cite, c.text) for c in parsed.chunks if c.kind == "item"] == [
        ("w:i1", "（一）招聘 1.", "办招聘会。"), ("w:i2", "（一）招聘 2.", "发岗位。"), ("w:i3", "（二）培训 1.", "办培训班。")
    ]


def test_a_gap_in_continuous_numbering_is_an_error_naming_the_line() -> None:
    text = "某方案（示例）\n一、任务\n（一）甲\n1.第一项。\n2.第二项。\n4.第四项。\n"
    with pytest.raises(CorpusError) as err:
        structures.parse(lines(text), Context("w", "w.txt", "w:"), "公文")
    assert err.value.line == 6 and "编号" in err.value.reason
