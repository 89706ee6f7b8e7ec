"""条文: one chunk per 第X条, cited as written, its 章 as section, 款 and 项 kept inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus import read_document
from assistant.documents import structures
from assistant.documents.structures.common import Context

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "structures" / "gongyi-banfa.txt"


def lines(text: str) -> list[tuple[int, str]]:
    return [(n, t.strip()) for n, t in enumerate(text.splitlines(), start=1) if t.strip()]


@pytest.fixture(scope="module")
def banfa():
    return read_document(FIXTURE)


def test_detected_as_articles_with_one_chunk_per_article(banfa) -> None:
    assert banfa.meta.structure == "条文"
    assert [c.id for c in banfa.chunks] == [f"gongyi-banfa:a{n}" for n in range(1, 11)]
    a5 = banfa.chunks[4]
    assert a5.cite == "第五条" and a5.number == 5 and a5.section == "第三章 岗位补贴"
    assert "每人每月2100元" in a5.text and a5.line == 14


def test_clauses_and_items_stay_inside_their_article(banfa) -> None:
    a3 = next(c for c in banfa.chunks if c.cite == "第三条")
    assert "（三）已在本区公共就业服务机构进行失业登记。" in a3.text
    assert "非本区户籍人员在本区连续缴纳社会保险满6个月的" in a3.text  # the 第二款
    assert a3.text.count("\n") == 4  # 款 and 项 keep their own lines


def test_articles_beyond_one_hundred_and_own_titles() -> None:
    text = "某某规定（示例）\n第九十九条　前一条。\n第一百条【适用范围】本规定适用于本区。\n第一百零二条　本规定自公布之日起施行。\n"
    parsed = structures.parse(lines(text), Context("x", "x.txt", "x:"))
    assert [(c.id, c.cite, c.number) for c in parsed.chunks] == [
        ("x:a99", "第九十九条", 99), ("x:a100", "第一百条", 100), ("x:a102", "第一百零二条", 102)
    ]
    assert parsed.chunks[1].title == "适用范围"
    # 第一百零一条 is missing: the parse says so instead of failing.
    assert any("第101条" in w or "第一百零二条" in w for w in parsed.warnings)


def test_preamble_and_closing_are_not_chunks(banfa) -> None:
    assert all("青城人社发" not in c.text and "2025年2月10日" not in c.text for c in banfa.chunks)
