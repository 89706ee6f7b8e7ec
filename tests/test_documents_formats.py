"""End to end over the four published forms: a 办法 (.txt), a 办事指南 (.docx), a 问答 page (.html) and a 通知 (.pdf,
lines broken by the page width) added to a copy of the corpus — none tuned for. The format fixtures and readers come
from the readers' branch (tests/fixtures/library/); without them this module skips."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.cli import main

REPO = Path(__file__).resolve().parent.parent
FORMATS = REPO / "tests" / "fixtures" / "library"
FILES = ("guide-startup-subsidy.docx", "qa-employment-subsidy.html", "notice-spring-fair.pdf")
DAY = dt.date(2025, 6, 1)

pytestmark = pytest.mark.skipif(
    not all((FORMATS / f).exists() for f in FILES)
    or any(importlib.util.find_spec(m) is None for m in ("docx", "pdfplumber", "selectolax")),
    reason="format fixtures/readers (tests/fixtures/library, readers/docx|pdf|html) not in this checkout",
)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("formats") / "corpus"
    shutil.copytree(REPO / "corpus", root)
    shutil.copy(REPO / "tests" / "fixtures" / "structures" / "gongyi-banfa.txt", root)
    for name in FILES:
        shutil.copy(FORMATS / name, root)
    for p in (FORMATS / "unreadable").iterdir():
        shutil.copy(p, root / p.name)
    return root


@pytest.fixture(scope="module")
def bot(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return Assistant.load(corpus_dir, tmp_path_factory.mktemp("idx"), "chars")


def test_each_form_gets_its_structure_and_unreadable_files_are_named(bot: Assistant) -> None:
    structure = {d.meta.doc_id: d.meta.structure for d in bot.corpus.documents}
    assert structure["guide-startup-subsidy"] == "办事指南"
    assert structure["qa-employment-subsidy"] == "问答"
    assert structure["notice-spring-fair"] == "公文"
    assert structure["gongyi-banfa"] == "条文"
    failed = {Path(f.file).name for f in bot.corpus.failures}
    assert failed == {"broken.docx", "encrypted.pdf", "no-body.html", "really-html.pdf", "scanned.pdf"}


def test_questions_are_answered_from_the_right_document_with_its_phone(bot: Assistant) -> None:
    a = bot.ask("一次性创业补贴申领要带哪些材料", today=DAY)
    m = a.measures[0]
    assert (m.doc, m.label, m.phone) == ("guide-startup-subsidy", "申请材料", "0532-87865432")
    assert "营业执照副本原件" in m.quote and "0532-87865432" in a.answer
    q = bot.ask("外地户籍人员可以申请就业补贴吗", today=DAY)
    assert any(x.doc == "qa-employment-subsidy" and x.label == "外地户籍人员可以申请吗？" for x in q.measures), q.answer


def test_the_lapsed_pdf_notice_is_flagged(bot: Assistant) -> None:
    a = bot.ask("春风行动专场招聘会在哪里举办", today=DAY)
    quoted = [m for m in a.measures if m.doc == "notice-spring-fair"]
    assert quoted, a.answer
    assert all(any(n.startswith("已过期") and "2025年3月31日" in n for n in m.notes) for m in quoted)
    assert quoted[0].phone == "0532-87868686"


def test_build_command_over_the_library(corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--quiet", "--corpus", str(corpus_dir), "--index", str(tmp_path / "i"), "--embedder", "chars"]) == 0
    captured = capsys.readouterr()
    assert "索引已建立" in captured.out and "scanned.pdf" in captured.err
