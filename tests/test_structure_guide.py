"""办事指南: one chunk per labelled field, whether numbered, in 【】, after a colon or as a table row."""

from __future__ import annotations

from pathlib import Path

from assistant.corpus import read_document
from assistant.documents import structures
from assistant.documents.structures.common import Context

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "structures" / "chuangye-zhinan.txt"


def lines(text: str) -> list[tuple[int, str]]:
    return [(n, t.strip()) for n, t in enumerate(text.splitlines(), start=1) if t.strip()]


def test_numbered_headings_become_labelled_chunks() -> None:
    doc = read_document(FIXTURE)
    assert doc.meta.structure == "办事指南"
    by_label = {c.cite: c for c in doc.chunks}
    assert list(by_label)[:4] == ["设定依据", "申请对象", "补贴标准", "申请材料"]
    assert "事项名称" not in by_label  # it heads the others instead
    assert by_label["申请材料"].text.splitlines()[2] == "3.营业执照副本；"  # the list stays one chunk
    assert by_label["办理时限"].text == "15个工作日"
    assert by_label["补贴标准"].section == "一次性创业补贴申领"  # the 事项名称
    assert by_label["申请材料"].id == "chuangye-zhinan:f5"


def test_bracketed_colon_and_table_row_headings() -> None:
    text = "某补贴办事指南（示例）\n【申请条件】在本区就业。\n申请材料：身份证。\n办理时限 | 10个工作日 |\n咨询电话：0532-80000000\n"
    parsed = structures.parse(lines(text), Context("g", "g.txt", "g:"))
    assert parsed.structure == "办事指南"
    assert [(c.cite, c.text) for c in parsed.chunks] == [
        ("申请条件", "在本区就业。"), ("申请材料", "身份证。"), ("办理时限", "10个工作日"), ("咨询电话", "0532-80000000")
    ]
