"""The on-disk index: plain files, verified on load, rebuilt when the corpus or embedder changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.corpus import load_corpus
from assistant.embed import CharEmbedder
from assistant.errors import EmbedderMismatch, IndexCorrupt, IndexMissing, IndexStale
from assistant.index import build_index, load_index, read_manifest
from assistant.text import Lexicon

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "corpus", tmp_path / "corpus")
    return tmp_path / "corpus"


def _build(corpus_dir: Path, index_dir: Path):
    corpus = load_corpus(corpus_dir)
    lexicon = Lexicon(corpus_dir / "lexicon", [c.text for c in corpus.chunks])
    return corpus, build_index(corpus, lexicon, CharEmbedder(), index_dir, progress=False)


def test_build_writes_inspectable_files_and_manifest(corpus_copy: Path, tmp_path: Path) -> None:
    corpus, manifest = _build(corpus_copy, tmp_path / "idx")
    idx = tmp_path / "idx"
    for name in ("manifest.json", "chunks.jsonl", "rows.json", "vectors.npy", "dense.faiss", "background.npy"):
        assert (idx / name).is_file(), name
    assert (idx / "lexical").is_dir()
    on_disk = json.loads((idx / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["corpus_sha256"] == corpus.fingerprint
    assert on_disk["embedder"] == "chars" and on_disk["dim"] == 512
    assert on_disk["chunk_ids"][:3] == ["notice", "guiding", "m1"]
    assert set(on_disk["files"]) >= {"vectors.npy", "dense.faiss", "lexical/vocab.index.json"}
    assert {"python", "faiss-cpu", "bm25s", "jieba"} <= set(on_disk["versions"])
    lines = (idx / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(corpus.chunks) and json.loads(lines[3])["id"] == "m2"
    assert manifest == read_manifest(idx)


def test_missing_stale_mismatched_and_corrupt_are_told_apart(corpus_copy: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    corpus = load_corpus(corpus_copy)
    with pytest.raises(IndexMissing):
        load_index(idx, corpus, "chars")
    _build(corpus_copy, idx)
    assert load_index(idx, corpus, "chars").dense.ntotal > len(corpus.chunks)
    with pytest.raises(EmbedderMismatch, match="chars"):
        load_index(idx, corpus, "e5:multilingual-e5-small")
    (corpus_copy / "lexicon" / "glossary.tsv").write_text("外卖\t灵活就业\n", encoding="utf-8")
    with pytest.raises(IndexStale):
        load_index(idx, load_corpus(corpus_copy), "chars")
    # Damage one byte of a file listed in the manifest.
    corpus = load_corpus(corpus_copy)
    _build(corpus_copy, idx)
    vectors = idx / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="vectors.npy"):
        load_index(idx, corpus, "chars")


def test_assistant_load_rebuilds_truncated_index(corpus_copy: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    _build(corpus_copy, idx)
    (idx / "dense.faiss").write_bytes(b"")
    bot = Assistant.load(corpus_copy, idx, "chars")
    assert bot.ask("以工代赈").measures[0].id == "m6"
    load_index(idx, bot.corpus, "chars")  # verifies again: rebuilt, not patched over


def test_assistant_load_without_rebuild_reports_the_problem(corpus_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="policy-assistant build"):
        Assistant.load(corpus_copy, tmp_path / "none", "chars", rebuild=False)


def test_corpus_edit_triggers_rebuild(corpus_copy: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    first = Assistant.load(corpus_copy, idx, "chars").manifest
    with (corpus_copy / "lexicon" / "glossary.tsv").open("a", encoding="utf-8") as fh:
        fh.write("跑单\t新业态 灵活就业\n")
    second = Assistant.load(corpus_copy, idx, "chars").manifest
    assert second.corpus_sha256 != first.corpus_sha256


# ---- a manifest or file of the right syntax but the wrong shape is damage, never a crash (issue 9) ----


def _edit_manifest(idx: Path, change) -> None:  # noqa: ANN001 - a small lambda per case
    raw = json.loads((idx / "manifest.json").read_text(encoding="utf-8"))
    change(raw)
    (idx / "manifest.json").write_text(json.dumps(raw), encoding="utf-8")


def _manifest_dir(idx: Path) -> None:
    (idx / "manifest.json").unlink()
    (idx / "manifest.json").mkdir()
    (idx / "manifest.json" / "x").write_text("{}")


def _file_dir(idx: Path) -> None:
    (idx / "rows.json").unlink()
    (idx / "rows.json").mkdir()


def _rows_shape(idx: Path) -> None:
    # Valid JSON, checksum updated: only the shape is wrong.
    import hashlib

    (idx / "rows.json").write_text(json.dumps([[1, 2]]), encoding="utf-8")
    digest = hashlib.sha256((idx / "rows.json").read_bytes()).hexdigest()
    _edit_manifest(idx, lambda m: m["files"].__setitem__("rows.json", digest))


DAMAGE = {
    "files is a list": lambda idx: _edit_manifest(idx, lambda m: m.__setitem__("files", [])),
    "files is null": lambda idx: _edit_manifest(idx, lambda m: m.__setitem__("files", None)),
    "files is empty": lambda idx: _edit_manifest(idx, lambda m: m.__setitem__("files", {})),
    "chunk_ids is a string": lambda idx: _edit_manifest(idx, lambda m: m.__setitem__("chunk_ids", "m1")),
    "dim is text": lambda idx: _edit_manifest(idx, lambda m: m.__setitem__("dim", "512")),
    "format is true": lambda idx: _edit_manifest(idx, lambda m: m.__setitem__("format", True)),
    "versions is a list": lambda idx: _edit_manifest(idx, lambda m: m.__setitem__("versions", [])),
    "a field is missing": lambda idx: _edit_manifest(idx, lambda m: m.pop("built_at")),
    "an unknown field": lambda idx: _edit_manifest(idx, lambda m: m.__setitem__("extra", 1)),
    "manifest is a list": lambda idx: (idx / "manifest.json").write_text("[]"),
    "manifest is null": lambda idx: (idx / "manifest.json").write_text("null"),
    "manifest is not UTF-8": lambda idx: (idx / "manifest.json").write_bytes(b"\xff\xfe{"),
    "path escapes the folder": lambda idx: _edit_manifest(idx, lambda m: m["files"].__setitem__("../x", "0" * 64)),
    "manifest.json is a directory": _manifest_dir,
    "a listed file is a directory": _file_dir,
    "rows.json has the wrong shape": _rows_shape,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_manifest_or_file_of_the_wrong_shape_is_damage_and_is_rebuilt(
    corpus_copy: Path, tmp_path: Path, damage: str
) -> None:
    idx = tmp_path / "idx"
    corpus, _ = _build(corpus_copy, idx)
    DAMAGE[damage](idx)
    with pytest.raises(IndexCorrupt):  # the library's own words, not AttributeError/IsADirectoryError
        load_index(idx, corpus, CharEmbedder().id)
    bot = Assistant.load(corpus_copy, idx, CharEmbedder())
    assert bot.ask("灵活就业人员意外伤害保险补贴").measures[0].id == "m3"
    load_index(idx, corpus, CharEmbedder().id)  # rebuilt whole
    assert (idx / "manifest.json").is_file()


class CountingEmbedder(CharEmbedder):
    """The chars embedder, counting the passages it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def passages(self, texts):  # type: ignore[no-untyped-def]
        self.embedded += len(texts)
        return super().passages(texts)


def test_adding_a_document_embeds_only_its_chunks(corpus_copy: Path, tmp_path: Path) -> None:
    from assistant.index import passage_texts

    idx = tmp_path / "idx"
    first = CountingEmbedder()
    corpus = load_corpus(corpus_copy)
    build_index(corpus, Lexicon(corpus_copy / "lexicon", [c.text for c in corpus.chunks]), first, idx, progress=False)
    assert first.embedded > 0
    shutil.copy(REPO / "tests" / "fixtures" / "structures" / "gongyi-banfa.txt", corpus_copy / "gongyi-banfa.txt")
    corpus = load_corpus(corpus_copy)
    second = CountingEmbedder()
    build_index(corpus, Lexicon(corpus_copy / "lexicon", [c.text for c in corpus.chunks]), second, idx, progress=False)
    new = [t for c in corpus.chunks if c.doc == "gongyi-banfa" for t in passage_texts(c)]
    assert second.embedded == len(new)
    # Cached vectors are the vectors: the index equals one built from scratch.
    fresh = tmp_path / "fresh"
    build_index(corpus, Lexicon(corpus_copy / "lexicon", [c.text for c in corpus.chunks]), CharEmbedder(), fresh, progress=False)
    import numpy as np

    assert np.array_equal(np.load(idx / "vectors.npy"), np.load(fresh / "vectors.npy"))
    load_index(idx, corpus, "chars")


def test_a_damaged_cache_is_ignored_not_trusted(corpus_copy: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    _build(corpus_copy, idx)
    (cache,) = [p for p in (idx / "cache").iterdir() if (p / "keys.json").exists()]  # the embeddings' (not tokens')
    (cache / "keys.json").write_text("[1, 2", encoding="utf-8")
    counting = CountingEmbedder()
    corpus = load_corpus(corpus_copy)
    build_index(corpus, Lexicon(corpus_copy / "lexicon", [c.text for c in corpus.chunks]), counting, idx, progress=False)
    assert counting.embedded > len(corpus.chunks)  # everything embedded afresh
    load_index(idx, corpus, "chars")


def test_adding_a_document_tokenises_only_its_chunks(corpus_copy: Path, tmp_path: Path) -> None:
    """The index keeps every chunk's tokens; a rebuild after adding a document runs jieba on its chunks alone, and the
    tokens are those a fresh tokenisation gives (what the retriever would compute itself)."""
    from assistant.build_cache import TokenCache
    from assistant.index import lexical_text, topic_of

    idx = tmp_path / "idx"
    _build(corpus_copy, idx)
    shutil.copy(REPO / "tests" / "fixtures" / "structures" / "gongyi-banfa.txt", corpus_copy / "gongyi-banfa.txt")
    corpus = load_corpus(corpus_copy)
    lexicon = Lexicon(corpus_copy / "lexicon", [c.text for c in corpus.chunks])
    texts = [lexical_text(c, topic_of(c, corpus)) for c in corpus.chunks]
    cache = TokenCache(idx / "cache", lexicon)
    cache.tokens(texts)
    assert cache.misses == sum(c.doc == "gongyi-banfa" for c in corpus.chunks) and cache.hits > 0
    build_index(corpus, lexicon, CharEmbedder(), idx, progress=False)
    loaded = load_index(idx, corpus, "chars")
    assert loaded.tokens == tuple(tuple(lexicon.tokens(t)) for t in texts)
    # A damaged token cache is ignored and rewritten, never trusted.
    cache.path.write_text('{"a": 1', encoding="utf-8")
    again = TokenCache(idx / "cache", lexicon)
    assert again.tokens(texts[:3]) == [tuple(lexicon.tokens(t)) for t in texts[:3]] and again.misses == 3


class _ConcurrentChars(CharEmbedder):
    """Character vectors from an embedder that says its calls may overlap; it records how many run at once and holds
    the first two calls until both are inside, which only a build that hands batches to two threads gets past."""

    concurrent_calls = True

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.lock = threading.Lock()
        self.inside = self.most = self.calls = 0
        self.both = threading.Barrier(2, timeout=30)

    def passages(self, texts):  # type: ignore[override]
        with self.lock:
            self.inside += 1
            self.calls += 1
            first_two = self.calls <= 2
            self.most = max(self.most, self.inside)
        try:
            if first_two:
                self.both.wait()
            return super().passages(texts)
        finally:
            with self.lock:
                self.inside -= 1


def test_an_encoder_that_may_run_concurrently_embeds_a_build_on_every_core(
    corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two cores, as on the reference machine: batches of the build go to two threads at once (e5's C encoder runs
    # one thread per call), and the index is the same as one built batch after batch.
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    corpus = load_corpus(corpus_copy)
    lexicon = Lexicon(corpus_copy / "lexicon", [c.text for c in corpus.chunks])
    embedder = _ConcurrentChars()
    build_index(corpus, lexicon, embedder, tmp_path / "a", progress=False)
    assert embedder.most == 2 and embedder.calls > 2
    build_index(corpus, lexicon, CharEmbedder(), tmp_path / "b", progress=False)
    a, b = load_index(tmp_path / "a", corpus, "chars"), load_index(tmp_path / "b", corpus, "chars")
    assert a.rows == b.rows
    n = a.dense.ntotal
    assert n == len(a.rows) and (a.dense.reconstruct_n(0, n) == b.dense.reconstruct_n(0, n)).all()
