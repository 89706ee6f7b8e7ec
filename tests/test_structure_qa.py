"""问答: one chunk per pair, cited by its question; 问/答, Q1/A1 and numbered questions ending in ？."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus import read_document
from assistant.documents import structures
from assistant.documents.structures.common import Context

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "structures" / "lingong-wenda.txt"


def lines(text: str) -> list[tuple[int, str]]:
    return [(n, t.strip()) for n, t in enumerate(text.splitlines(), start=1) if t.strip()]


def test_question_answer_pairs() -> None:
    doc = read_document(FIXTURE)
    assert doc.meta.structure == "问答"
    q3 = doc.chunks[2]
    assert q3.id == "lingong-wenda:q3" and q3.cite == "外地户籍的人可以申请吗？"
    assert q3.text.startswith("在本区连续居住满1年") and not q3.text.startswith("答")


@pytest.mark.parametrize(
    "text",
    [
        "政策解读（示例）\nQ1：补贴发多久？\nA1：最长3年。\nQ2：去哪办？\nA2：街道办事处。\n",
        "政策解读（示例）\n1.补贴发多久？\n最长3年。\n2.去哪办？\n街道办事处。\n",
    ],
)
def test_other_question_forms(text: str) -> None:
    parsed = structures.parse(lines(text), Context("q", "q.txt", "q:"))
    assert parsed.structure == "问答"
    assert [(c.cite, c.text) for c in parsed.chunks] == [("补贴发多久？", "最长3年。"), ("去哪办？", "街道办事处。")]
