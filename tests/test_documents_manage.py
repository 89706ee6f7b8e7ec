"""Managing the library: preview, add (with its sidecar), remove, list — as library functions and as commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.corpus import load_corpus
from assistant.documents import manage

REPO = Path(__file__).resolve().parent.parent
STRUCTURES = REPO / "tests" / "fixtures" / "structures"


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "corpus", tmp_path / "corpus")
    return tmp_path / "corpus"


def test_preview_shows_the_parse_without_copying(corpus_copy: Path) -> None:
    seen = manage.preview(STRUCTURES / "gongyi-banfa.txt", corpus_dir=corpus_copy)
    assert seen.ok and seen.doc_id == "gongyi-banfa" and seen.replaces is None
    assert seen.document is not None and seen.document.chunks[4].id == "gongyi-banfa:a5"
    assert not (corpus_copy / "gongyi-banfa.txt").exists()
    bad = corpus_copy.parent / "blob.txt"
    bad.write_bytes(b"\x00\x01")
    failed = manage.preview(bad, corpus_dir=corpus_copy)
    assert not failed.ok and failed.failure is not None and "blob.txt" in str(failed.failure)


def test_add_copies_file_and_sidecar_and_remove_takes_both_away(corpus_copy: Path, tmp_path: Path) -> None:
    meta = tmp_path / "side.toml"
    meta.write_text('implements = ["m11"]\n', encoding="utf-8")
    manage.add(corpus_copy, STRUCTURES / "gongyi-banfa.txt", meta)
    assert (corpus_copy / "gongyi-banfa.txt.meta.toml").read_text(encoding="utf-8") == meta.read_text(encoding="utf-8")
    doc = load_corpus(corpus_copy).document("gongyi-banfa")
    assert doc is not None and doc.meta.implements == ("m11",)
    with pytest.raises(manage.LibraryError, match="已有"):
        manage.add(corpus_copy, STRUCTURES / "gongyi-banfa.txt")
    removed = manage.remove(corpus_copy, "gongyi-banfa")
    assert {p.name for p in removed} == {"gongyi-banfa.txt", "gongyi-banfa.txt.meta.toml"}
    assert load_corpus(corpus_copy).document("gongyi-banfa") is None


def test_the_primary_cannot_be_removed_or_shadowed(corpus_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(manage.LibraryError, match="主文件"):
        manage.remove(corpus_copy, "chengyang-2024-13")
    shadow = tmp_path / "chengyang-2024-13.md"
    shadow.write_text("问：补贴多少？\n答：很多。\n", encoding="utf-8")
    with pytest.raises(manage.LibraryError, match="主文件"):
        manage.preview(shadow, corpus_dir=corpus_copy)
    with pytest.raises(manage.LibraryError, match="不支持"):
        manage.preview(tmp_path / "x.xlsx", corpus_dir=corpus_copy)


def test_commands_add_list_remove(corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--corpus", str(corpus_copy), "--index", str(tmp_path / "idx"), "--embedder", "chars"]
    assert main(["add", str(STRUCTURES / "chuangye-zhinan.txt"), "--yes", *common]) == 0
    out = capsys.readouterr().out
    assert "结构: 办事指南" in out and "chuangye-zhinan:f5  [申请材料]" in out and "已加入 chuangye-zhinan" in out
    assert main(["documents", "--json", *common]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in listing["documents"]] == ["chengyang-2024-13", "chuangye-zhinan"]
    assert listing["documents"][1]["chunks"] == 8 and listing["failures"] == []
    (corpus_copy / "broken.txt").write_bytes(b"\x00")
    assert main(["documents", *common]) == 1  # a file left out is reported, and the exit code says so
    out = capsys.readouterr().out
    assert "未载入" in out and "broken.txt" in out and "《一次性创业补贴申领办事指南（示例）》" in out
    (corpus_copy / "broken.txt").unlink()
    assert main(["remove", "chuangye-zhinan", "--yes", *common]) == 0
    assert not (corpus_copy / "chuangye-zhinan.txt").exists()
