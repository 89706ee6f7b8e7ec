"""Documents in forms the structures were not written against (tests/fixtures/unseen/): a 办事指南 written as a
「项目：内容」 list whose keys are mostly not in guide_fields.txt, and a 政策解读 page with numbered bold questions."""

from __future__ import annotations

from pathlib import Path

from assistant.corpus import read_document

UNSEEN = Path(__file__).resolve().parent / "fixtures" / "unseen"


def test_a_keyed_guide_is_one_chunk_per_key_in_its_own_words() -> None:
    doc = read_document(UNSEEN / "jianxi-zhinan.txt")
    assert doc.meta.structure == "办事指南"
    labels = [c.cite for c in doc.chunks]
    # 服务事项 names the item: it heads the others and is no chunk of its own.
    assert labels == [
        "服务对象",
        "补贴标准",
        "申报时间",
        "所需要件",
        "办理方式",
        "办结时限",
        "受理单位",
        "办公时间",
        "是否收费",
        "联系电话",
    ]
    by = {c.cite: c for c in doc.chunks}
    assert by["申报时间"].text == "每季度首月1日至15日申报上一季度的见习补贴。"
    assert "申报时间" not in by["补贴标准"].text  # not folded into the field above it
    assert by["所需要件"].text.count("\n") == 3 and by["受理单位"].section == "就业见习补贴申领"
    assert (doc.meta.number, doc.meta.phone) == ("青城人社字〔2025〕15号", "0532-87860789")


def test_a_keyed_line_inside_a_guide_with_bare_headings_stays_text(tmp_path: Path) -> None:
    # Headings alone on their lines: a 「联系人：」 line under one of them is its content, not a field.
    p = tmp_path / "zhinan.txt"
    p.write_text(
        "某补贴办事指南（示例）\n一、申请条件\n本区户籍。\n二、办理地点\n区政务服务中心\n联系人：王科长\n三、咨询电话\n0532-80000000\n",
        encoding="utf-8",
    )
    doc = read_document(p)
    assert [c.cite for c in doc.chunks] == ["申请条件", "办理地点", "咨询电话"]
    assert "联系人：王科长" in doc.chunks[1].text


def test_a_reading_page_with_numbered_questions_is_one_pair_per_question() -> None:
    doc = read_document(UNSEEN / "qiuzhi-jiedu.html")
    assert doc.meta.structure == "问答" and len(doc.chunks) == 6
    assert doc.chunks[1].cite == "补贴标准是多少？" and "每人3000元" in doc.chunks[1].text
    assert (doc.meta.number, doc.meta.phone) == ("青城人社发〔2025〕11号", "0532-87863366")
