"""Anything without recognisable numbering is chunked by paragraph, with a warning, never a crash."""

from __future__ import annotations

from pathlib import Path

from assistant.corpus import read_document
from assistant.documents.structures.paragraphs import WARNING

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "structures" / "bianmin-shuoming.txt"


def test_paragraphs_with_a_warning() -> None:
    doc = read_document(FIXTURE, fallback_phone="0532-58659939")
    assert doc.meta.structure == "段落" and WARNING in doc.meta.warnings
    assert doc.meta.title == "便民服务说明（示例）"
    assert [c.id for c in doc.chunks] == ["bianmin-shuoming:p1", "bianmin-shuoming:p2", "bianmin-shuoming:p3"]
    assert doc.chunks[1].text == "求职人员进入市场请出示身份证件，并在入口处登记。"
    # No phone in the text: the primary's is used, and the report says so.
    assert doc.meta.phone == "0532-58659939" and any("咨询电话" in w for w in doc.meta.warnings)
