"""Answers across a library: each quote attributed to its own document (title, 文号, label, phone), lapsed documents
flagged, related rules named under the measures they implement, and the library listed over HTTP."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant

REPO = Path(__file__).resolve().parent.parent
STRUCTURES = REPO / "tests" / "fixtures" / "structures"
PRIMARY_PHONE = "0532-58659939"
DAY = dt.date(2025, 6, 1)  # after the 春风行动 period (2025-03-31), before the 办法 lapses (2028)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("library")
    shutil.copytree(REPO / "corpus", root / "corpus")
    for p in STRUCTURES.glob("*.txt"):
        shutil.copy(p, root / "corpus" / p.name)
    return Assistant.load(root / "corpus", root / "index", "chars")


def first(answer):  # type: ignore[no-untyped-def]
    assert answer.measures, answer.answer
    return answer.measures[0]


def test_an_article_is_quoted_with_its_document_label_and_phone(library: Assistant) -> None:
    a = library.ask("公益性岗位每月补贴多少钱", today=DAY)
    m = first(a)
    assert (m.id, m.label) == ("gongyi-banfa:a5", "第五条")
    assert (m.doc_title, m.doc_number, m.phone) == ("城阳区城乡公益性岗位管理办法（示例）", "青城人社发〔2025〕7号", "0532-87861234")
    assert "《城阳区城乡公益性岗位管理办法（示例）》(青城人社发〔2025〕7号)第五条" in a.answer
    assert "每人每月2100元" in a.answer.split("\n")[0]  # the asked-for amount leads
    assert "0532-87861234" in a.answer and PRIMARY_PHONE in a.answer


def test_a_guide_field_answers_a_materials_question(library: Assistant) -> None:
    a = library.ask("一次性创业补贴需要什么材料", today=DAY)
    m = first(a)
    assert m.label == "申请材料" and "营业执照副本" in m.quote and m.phone == "0532-87869876"


def test_a_qa_pair_answers_by_its_question(library: Assistant) -> None:
    a = library.ask("外地户籍的人可以申请灵活就业社保补贴吗", today=DAY)
    labels = [m.label for m in a.measures]
    assert "外地户籍的人可以申请吗？" in labels


def test_a_lapsed_notice_is_flagged_with_its_date(library: Assistant) -> None:
    a = library.ask("春风行动专场招聘会什么时候举办", today=DAY)
    quoted = [m for m in a.measures if m.doc == "chunfeng-tongzhi"]
    assert quoted, a.answer
    for m in quoted:
        assert any(n.startswith("已过期") and "2025年3月31日" in n for n in m.notes)
    assert "已过期" in a.answer
    before = library.ask("春风行动专场招聘会什么时候举办", today=dt.date(2025, 3, 1))
    assert not any("已过期" in n for m in before.measures for n in m.notes)


def test_the_primary_carries_its_own_attribution(library: Assistant) -> None:
    a = library.ask("第三条是什么", today=DAY)
    m = first(a)
    assert (m.id, m.label, m.doc_number, m.phone) == ("m3", "第3条", "青城政办发〔2024〕13号", PRIMARY_PHONE)


def test_a_related_rule_is_named_under_the_measure_it_implements(library: Assistant) -> None:
    a = library.answer_for("m11", today=DAY)
    assert "相关细则:《城阳区城乡公益性岗位管理办法（示例）》(青城人社发〔2025〕7号)第" in a.answer
    plain = library.answer_for("m1", today=DAY)
    assert "相关细则" not in plain.answer


def test_api_documents_lists_the_library(library: Assistant) -> None:
    from web.app import create_app

    with TestClient(create_app(assistant=library)) as client:
        body = client.get("/api/documents").json()
    docs = {d["id"]: d for d in body["documents"]}
    assert docs["chengyang-2024-13"]["primary"] and docs["chengyang-2024-13"]["chunks"] == 25
    assert docs["gongyi-banfa"]["structure"] == "条文" and docs["gongyi-banfa"]["number"] == "青城人社发〔2025〕7号"
    assert docs["chuangye-zhinan"]["structure"] == "办事指南" and docs["lingong-wenda"]["structure"] == "问答"
    assert docs["bianmin-shuoming"]["structure"] == "段落" and docs["bianmin-shuoming"]["warnings"]
    assert docs["chunfeng-tongzhi"]["expires"] == "2025-03-31"
    assert body["failures"] == []


def test_lookup_shows_which_document_a_chunk_is_from(library: Assistant) -> None:
    from web.app import create_app

    with TestClient(create_app(assistant=library)) as client:
        detail = client.get("/lookup/gongyi-banfa:a5").text
        browse = client.get("/lookup").text
        primary = client.get("/lookup/m3").text
    assert "《城阳区城乡公益性岗位管理办法（示例）》(青城人社发〔2025〕7号)" in detail
    assert 'href="tel:0532-87861234"' in detail
    assert '<span class="doc" title="所在文件">《灵活就业人员社会保险补贴政策问答（示例）》' in browse
    assert "《城阳区稳定和扩大就业助推经济社会高质量发展工作实施意见》(青城政办发〔2024〕13号)" in primary
    assert 'href="tel:0532-58659939"' in primary


def test_eval_reports_per_document(library: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from assistant.cli import main

    # The library FAQ also asks about the format fixtures (a .docx guide, a .pdf notice, an .html Q&A page).
    corpus = tmp_path / "corpus"
    shutil.copytree(library.corpus.root, corpus)
    for p in (REPO / "tests" / "fixtures" / "library").glob("*.*"):
        shutil.copy(p, corpus / p.name)
    args = ["eval", "--faq", str(REPO / "eval" / "faq_library.jsonl"), "--json", "--quiet",
            "--corpus", str(corpus), "--index", str(tmp_path / "i"), "--embedder", "chars"]  # fmt: skip
    main(args)
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    by_doc = report["by_doc"]
    assert {"gongyi-banfa", "chuangye-zhinan", "lingong-wenda", "chunfeng-tongzhi", "(主文件)"} <= set(by_doc)
    assert by_doc["gongyi-banfa"]["n"] == 5 and sum(d["n"] for d in by_doc.values()) == report["n_in_scope"]
