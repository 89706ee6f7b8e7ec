"""load_corpus over a library: every supported file, failures recorded (never fatal), service and /healthz keep going."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.corpus import load_corpus

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped corpus plus every structure fixture and two files that cannot load."""
    root = tmp_path_factory.mktemp("lib") / "corpus"
    shutil.copytree(REPO / "corpus", root)
    for p in (FIXTURES / "structures").glob("*.txt"):
        shutil.copy(p, root / p.name)
    for p in (FIXTURES / "broken").iterdir():
        shutil.copy(p, root / p.name)
    (root / "notes.docx").write_bytes(b"PK\x03\x04 not really a word file")
    return root


def test_every_document_loads_and_failures_name_file_line_and_reason(library: Path) -> None:
    corpus = load_corpus(library)
    ids = [d.meta.doc_id for d in corpus.documents]
    assert ids[0] == "chengyang-2024-13"
    assert {"gongyi-banfa", "chuangye-zhinan", "lingong-wenda", "chunfeng-tongzhi", "bianmin-shuoming"} <= set(ids)
    failed = {Path(f.file).name: f for f in corpus.failures}
    assert set(failed) == {"binary-blob.txt", "bad-sidecar.txt.meta.toml", "notes.docx"}
    assert "二进制" in failed["binary-blob.txt"].reason
    assert "status" in failed["bad-sidecar.txt.meta.toml"].reason
    assert failed["notes.docx"].reason  # either the reader says why, or that the format's reader is missing
    # The primary's chunks are untouched by the company it keeps.
    assert [c.id for c in corpus.primary_doc.measures] == [f"m{n}" for n in range(1, 21)]


def test_service_starts_and_healthz_names_the_failed_files(library: Path, tmp_path: Path, caplog) -> None:
    from web.app import create_app

    with caplog.at_level(logging.ERROR, logger="policy_assistant"):
        bot = Assistant.load(corpus_dir=library, index_dir=tmp_path / "index", embedder="chars")
    assert any("binary-blob.txt" in r.getMessage() for r in caplog.records)
    with TestClient(create_app(assistant=bot)) as client:
        health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["documents"] == len(bot.corpus.documents)
    failed = {Path(f["file"]).name: f for f in health["documents_failed"]}
    assert "binary-blob.txt" in failed and failed["binary-blob.txt"]["reason"]


def test_a_missing_primary_is_still_fatal(tmp_path: Path) -> None:
    from assistant.errors import CorpusError

    shutil.copy(FIXTURES / "structures" / "gongyi-banfa.txt", tmp_path / "gongyi-banfa.txt")
    (tmp_path / "corpus.json").write_text('{"primary": "chengyang-2024-13"}', encoding="utf-8")
    with pytest.raises(CorpusError, match="主文件"):
        load_corpus(tmp_path)


def test_synthetic_library_for_the_bench_has_distinct_chunks(tmp_path: Path) -> None:
    from assistant.documents.bench import make_library

    corpus = load_corpus(make_library(tmp_path, 12))
    related = [c for c in corpus.chunks if c.doc != corpus.primary]
    assert len(corpus.documents) == 13 and not corpus.failures
    # Copies of one fixture differ in their figures, so an index embeds each copy afresh (no cache hits).
    banfa = [c.text for c in related if c.id.endswith(":a5") and c.doc.startswith("gongyi-banfa")]
    assert len(banfa) >= 2 and len(set(banfa)) == len(banfa)
