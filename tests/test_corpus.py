"""The parser turns the raw scrape into the chunks every other stage depends on."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from assistant.corpus import cn_to_int, fingerprint, load_corpus, parse_document
from assistant.documents.readers import DocumentReadError
from assistant.errors import CorpusError

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "corpus" / "chengyang-2024-13.txt"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(REPO / "corpus")


def raw() -> str:
    return SOURCE.read_text(encoding="utf-8")


def test_corpus_copy_is_the_published_text_unchanged() -> None:
    shared = REPO.parent / "shared" / "policy" / "chengyang-employment-2024-13.txt"
    if not shared.exists():
        pytest.skip("shared/ policy text not beside this checkout")
    assert SOURCE.read_bytes() == shared.read_bytes()


def test_exactly_twenty_measures_with_guide_ids(corpus) -> None:
    doc = corpus.primary_doc
    assert [c.id for c in doc.measures] == [f"m{n}" for n in range(1, 21)]
    assert [c.number for c in doc.measures] == list(range(1, 21))
    assert {"guiding", "org1", "org2", "org3", "notice"} <= {c.id for c in corpus.chunks}


def test_measure_units_parsed_from_the_clause(corpus) -> None:
    assert corpus.chunk("m7").lead_units == ("城阳区税务局", "区人力资源社会保障局", "区财政局")
    m9 = corpus.chunk("m9").lead_units
    assert len(m9) == 6 and m9[-1] == "北岸控股集团"
    assert corpus.chunk("m16").lead_units == ("区人力资源社会保障局",)
    for m in corpus.primary_doc.measures:
        assert m.lead_units, m.id
        assert all("负责" not in u and u for u in m.lead_units), m.lead_units


def test_measure_title_section_and_text(corpus) -> None:
    m1 = corpus.chunk("m1")
    assert m1.title == "坚持就业优先发展战略"
    assert m1.section == "(一)加快培育新的就业增长点"
    m3 = corpus.chunk("m3")
    assert m3.text.startswith("实施灵活就业促进工程。")
    assert "责任单位" not in m3.text and "100元" in m3.text
    # Every measure's text is a verbatim slice of the source.
    for m in corpus.primary_doc.measures:
        assert m.text in raw()


def test_metadata(corpus) -> None:
    meta = corpus.primary_doc.meta
    assert meta.number == "青城政办发〔2024〕13号"
    assert meta.issuer == "青岛市城阳区人民政府办公室"
    assert meta.written == meta.published == dt.date(2024, 7, 16)
    assert meta.phone == "0532-58659939"
    assert meta.consult_dept == "青岛市城阳区人力资源和社会保障局"
    assert meta.get("索引号") == "000014349/2024-00358"
    assert meta.keywords == ("社会保障", "稳定和扩大就业")
    assert meta.title == "城阳区稳定和扩大就业助推经济社会高质量发展工作实施意见"


def test_non_measure_chunks(corpus) -> None:
    assert corpus.chunk("guiding").text.startswith("以习近平新时代中国特色社会主义思想为指导")
    assert corpus.chunk("org2").title == "提高站位,夯实责任"
    notice = corpus.chunk("notice")
    assert "请认真组织实施" in notice.text and "0532-58659939" in notice.text


def test_deadlines_are_read_from_the_text(corpus) -> None:
    (d7,) = corpus.chunk("m7").deadlines
    assert d7.date == dt.date(2025, 12, 31) and d7.phrase in corpus.chunk("m7").text
    (d8,) = corpus.chunk("m8").deadlines
    assert d8.date == dt.date(2024, 12, 31) and "年底" in d8.phrase
    assert corpus.chunk("m3").deadlines == ()


@pytest.mark.parametrize(
    ("damage", "marker", "reason"),
    [
        (lambda t: t.replace("(责任单位:区人力资源社会保障局、区教育体育局、区总工会、区财政局按职责分工负责)", ""), "5.加强产业工人", "责任单位"),
        (lambda t: t.replace("\n6.扩大以工代赈", "\n7.扩大以工代赈", 1), "7.扩大以工代赈", "编号"),
        (lambda t: t.replace("发文字号 | 青城政办发〔2024〕13号 |\n", "发文字号 | 青城政办发〔2025〕1号 |\n"), "发文字号 | 青城政办发〔2025〕", "不一致"),
    ],
)
def test_malformed_copy_fails_loudly_naming_file_and_line(tmp_path: Path, damage, marker: str, reason: str) -> None:
    bad = tmp_path / "bad.txt"
    damaged = damage(raw())
    assert damaged != raw()
    line_hint = next(n for n, ln in enumerate(damaged.splitlines(), start=1) if ln.startswith(marker))
    bad.write_text(damaged, encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        parse_document(damaged, str(bad), "bad")
    assert err.value.path == str(bad) and err.value.line == line_hint
    assert reason in str(err.value) and f"bad.txt:{line_hint}" in str(err.value)


def test_empty_and_binary_files_are_errors(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"\x00\x01binary")
    with pytest.raises(DocumentReadError, match="a.txt"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="空"):
        parse_document("\n\n", "x.txt", "x")


def test_primary_parse_is_unchanged_by_the_library() -> None:
    """The primary's chunks and metadata, field by field, as the single-house-style parser produced them (snapshot
    taken from assistant/corpus.py before it became the 公文 structure)."""
    import json
    from dataclasses import asdict

    snap = json.loads((REPO / "tests" / "fixtures" / "primary_chunks.json").read_text(encoding="utf-8"))
    doc = load_corpus(REPO / "corpus").primary_doc
    got = [json.loads(json.dumps(asdict(c), default=str)) for c in doc.chunks]
    assert [{k: c[k] for k in snap["chunks"][0]} for c in got] == snap["chunks"]
    assert [c.label for c in doc.chunks] == snap["labels"]
    meta = json.loads(json.dumps(asdict(doc.meta), default=str))
    assert {k: meta[k] for k in snap["meta"]} == snap["meta"]
    assert doc.meta.structure == "公文" and doc.meta.warnings == ()


def test_related_rule_gets_prefixed_ids(tmp_path: Path) -> None:
    shutil.copytree(REPO / "corpus", tmp_path / "corpus")
    rule = raw().replace("青城政办发〔2024〕13号", "青城政办发〔2024〕99号")
    (tmp_path / "corpus" / "related-rule.txt").write_text(rule, encoding="utf-8")
    corpus = load_corpus(tmp_path / "corpus")
    assert [d.meta.doc_id for d in corpus.documents] == ["chengyang-2024-13", "related-rule"]
    ids = {c.id for c in corpus.chunks}
    assert {"m3", "related-rule:m3", "related-rule:notice"} <= ids
    assert corpus.chunk("related-rule:m3").doc == "related-rule"


def test_fingerprint_follows_lexicon_edits(tmp_path: Path) -> None:
    shutil.copytree(REPO / "corpus", tmp_path / "c")
    before = fingerprint(tmp_path / "c")
    with (tmp_path / "c" / "lexicon" / "glossary.tsv").open("a", encoding="utf-8") as fh:
        fh.write("新词\t灵活就业\n")
    assert fingerprint(tmp_path / "c") != before


@pytest.mark.parametrize(("text", "value"), [("7", 7), ("七", 7), ("十", 10), ("十四", 14), ("二十", 20), ("两", 2), ("九十九", 99), ("百", None), ("一二三", None),
     ("一百", 100), ("一百零二", 102), ("一百一十", 110), ("二百一十", 210), ("一百二十三", 123), ("十百", None), ("一零", None)])
def test_chinese_numerals(text: str, value: int | None) -> None:
    assert cn_to_int(text) == value
