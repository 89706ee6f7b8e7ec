"""Staff keep the library current (issue 21): publish with corrections, withdraw, delete, undo; uploads checked by
content with limits; versions built in the background and swapped atomically; the audit trail."""

from __future__ import annotations

import io
import shutil
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from assistant.embed import CharEmbedder
from assistant.publishing import releases as rel
from assistant.publishing.library import Librarian, LibraryError, corrections_sidecar
from assistant.publishing.live import LiveRelease, Publisher, load_release
from assistant.publishing.upload import MAX_EXPANDED_BYTES, UploadRefused

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "tests" / "fixtures" / "structures" / "chuangye-zhinan.txt"


class CountingEmbedder(CharEmbedder):
    """The character embedder, counting the passages it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.passages_embedded = 0

    def passages(self, texts):  # type: ignore[no-untyped-def, override]
        self.passages_embedded += len(texts)
        return self.queries(texts)


@pytest.fixture
def library(tmp_path: Path) -> Librarian:
    root = tmp_path / "library"
    shutil.copytree(REPO / "corpus", root)
    return Librarian(root)


def blocks(data: bytes, size: int = 1 << 16) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def stage(lib: Librarian, data: bytes, name: str):  # type: ignore[no-untyped-def]
    return lib.stage(blocks(data), name)


def outside_files(lib: Librarian) -> set[Path]:
    """Every file under the library's parent folder that is not inside the library."""
    return {p for p in lib.root.parent.rglob("*") if p.is_file() and lib.root not in p.parents}


# -- publishing, corrections, versions ---------------------------------------------------------


def test_publish_stores_under_a_generated_name_with_the_staffs_corrections_as_sidecar(library: Librarian) -> None:
    before = outside_files(library)
    staged = stage(library, GUIDE.read_bytes(), "../../../etc/一次性创业补贴指南.txt")
    assert staged.display_name == "一次性创业补贴指南.txt"
    preview = library.preview(staged.token)
    # The preview is the parse publishing would make: one chunk per heading, labelled by it, and the phone read.
    labels = [c.label for c in preview.document.chunks]
    assert "申请材料" in " ".join(labels) and "办理时限" in " ".join(labels)
    assert preview.document.meta.phone == "0532-87869876"
    assert not preview.replaces

    fixes = corrections_sidecar({"title": "一次性创业补贴申领指南（示例，已核对）", "number": "城人社字〔2025〕3号",
                                 "expires": "2030年12月31日", "implements": "m5, m6", "status": "现行"})  # fmt: skip
    change = library.publish(staged.token, "chuangye-guide", fixes)
    assert change.action == "publish" and change.doc_id == "chuangye-guide"
    stored = library.root / "chuangye-guide.txt"
    assert stored.read_bytes() == GUIDE.read_bytes()
    assert (library.root / "chuangye-guide.txt.meta.toml").exists()
    assert outside_files(library) == before  # nothing written outside the library, whatever the name said
    assert not any(library.root.rglob("passwd")) and not list((library.root / ".staging").iterdir())

    doc = library.corpus().document("chuangye-guide")
    assert doc is not None
    assert doc.meta.title == "一次性创业补贴申领指南（示例，已核对）"
    assert doc.meta.number == "城人社字〔2025〕3号"
    assert doc.meta.expires is not None and doc.meta.expires.year == 2030
    assert doc.meta.implements == ("m5", "m6")


def test_a_generated_doc_id_comes_from_nothing_of_the_uploads_name(library: Librarian) -> None:
    staged = stage(library, GUIDE.read_bytes(), "..%2f..%2fx.txt")
    change = library.publish(staged.token, library.preview(staged.token).doc_id)
    assert change.doc_id.startswith("doc-") and "x" not in change.doc_id.removeprefix("doc-").split("-")[0]
    assert library.exists(change.doc_id)


def test_republishing_keeps_the_previous_version_and_undo_restores_it(library: Librarian) -> None:
    first = stage(library, GUIDE.read_bytes(), "guide.txt")
    library.publish(first.token, "guide")
    changed = GUIDE.read_text(encoding="utf-8").replace("15个工作日", "10个工作日").encode("utf-8")
    second = stage(library, changed, "guide-v2.txt")
    assert library.preview(second.token, "guide").replaces
    library.publish(second.token, "guide")
    assert "10个工作日" in (library.root / "guide.txt").read_text(encoding="utf-8")
    assert len(library.versions("guide")) == 2

    library.undo("guide")  # back to the first publish
    assert (library.root / "guide.txt").read_bytes() == GUIDE.read_bytes()
    library.undo("guide")  # before the first publish: not in the library at all
    assert not library.exists("guide")
    with pytest.raises(LibraryError, match="没有可以撤销"):
        library.undo("guide")


def test_withdraw_marks_it_repealed_with_its_replacement_and_undo_brings_it_back(library: Librarian) -> None:
    library.publish(stage(library, GUIDE.read_bytes(), "a.txt").token, "old-guide")
    library.publish(stage(library, GUIDE.read_bytes(), "b.txt").token, "new-guide", {"title": "新指南（示例）"})
    with pytest.raises(LibraryError, match="不在政策库"):
        library.withdraw("old-guide", superseded_by="nowhere")
    change = library.withdraw("old-guide", superseded_by="new-guide")
    assert change.action == "withdraw"
    corpus = library.corpus()
    old = corpus.document("old-guide")
    assert old is not None and old.meta.status(old.meta.written or __import__("datetime").date.today()) == "已废止"
    note = old.meta.lifecycle_note(__import__("datetime").date.today(), {"new-guide": "新指南（示例）"})
    assert note.startswith("已废止") and "《新指南（示例）》取代" in note

    library.undo("old-guide")
    old = library.corpus().document("old-guide")
    assert old is not None and not old.meta.repealed and not old.meta.superseded_by


def test_delete_and_undo_and_the_primary_is_protected(library: Librarian) -> None:
    library.publish(stage(library, GUIDE.read_bytes(), "g.txt").token, "g")
    library.delete("g")
    assert not library.exists("g") and library.corpus().document("g") is None
    library.undo("g")
    assert library.corpus().document("g") is not None
    for action in (library.delete, library.withdraw):
        with pytest.raises(LibraryError, match="主文件"):
            action(library.primary)
    with pytest.raises(LibraryError, match="小写字母"):
        library.delete("../corpus")


def test_an_unreadable_upload_is_refused_at_preview_and_nothing_is_published(library: Librarian) -> None:
    staged = stage(library, b"\n\n   \n", "empty.txt")
    with pytest.raises(LibraryError, match="无法读取"):
        library.publish(staged.token, "empty")
    assert not library.exists("empty")


def test_corrections_are_checked() -> None:
    with pytest.raises(LibraryError, match="日期"):
        corrections_sidecar({"expires": "明年"})
    with pytest.raises(LibraryError, match="条目编号"):
        corrections_sidecar({"implements": "m3, ../x"})
    with pytest.raises(LibraryError, match="状态"):
        corrections_sidecar({"status": "暂停"})
    assert corrections_sidecar({"title": " ", "status": "现行"}) == {}


# -- hostile uploads ---------------------------------------------------------------------------


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_fifty_megabytes_are_refused_without_being_read_whole(library: Librarian) -> None:
    sent = 0

    def fifty_mb() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(50 * 16):
            sent += 1
            yield b"a" * (1 << 16)

    with pytest.raises(UploadRefused, match="不能超过 10 MB"):
        library.stage(fifty_mb(), "big.txt")
    assert sent < 10 * 16 + 2  # stopped one block past the limit
    assert not [p for p in (library.root / ".staging").rglob("*") if p.is_file()]


def test_a_zip_bomb_named_docx_is_refused(library: Librarian) -> None:
    bomb = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>",
                      "word/media/pad.bin": b"\0" * (MAX_EXPANDED_BYTES + 1)})  # fmt: skip
    assert len(bomb) < 1024 * 1024  # small on the wire
    with pytest.raises(UploadRefused, match="压缩炸弹"):
        stage(library, bomb, "办事指南.docx")
    many = zip_bytes({"[Content_Types].xml": b"", "word/document.xml": b"", **{f"x/{i}": b"" for i in range(300)}})
    with pytest.raises(UploadRefused, match="部件"):
        stage(library, many, "a.docx")


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"<!DOCTYPE html><html><body>\xe9\x80\x9a\xe7\x9f\xa5</body></html>", "notice.pdf", "内容却是网页"),
        (b"%PDF-1.7\n...", "notice.docx", "不是Word"),
        (zip_bytes({"a.txt": b"x"}), "a.zip", "不支持的文件类型"),
        (zip_bytes({"a.txt": b"x"}), "a.docx", "不是 Word 文档"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "a.txt", "不是可读的文字"),
        (b"hello", "run.exe", "不支持的文件类型"),
    ],
)
def test_the_type_is_decided_by_the_content(library: Librarian, data: bytes, name: str, reason: str) -> None:
    with pytest.raises(UploadRefused, match=reason):
        stage(library, data, name)
    assert not [p for p in (library.root / ".staging").rglob("*") if p.is_file()]


# -- versions of library + index ---------------------------------------------------------------


def test_a_publish_embeds_only_the_new_documents_passages_and_swaps_atomically(
    library: Librarian, tmp_path: Path
) -> None:
    releases = tmp_path / "releases"
    served = Assistant.load(corpus_dir=library.root, index_dir=tmp_path / "index", embedder="chars")
    seed = rel.seed_from_assistant(served)
    library.publish(stage(library, GUIDE.read_bytes(), "g.txt").token, "guide")
    emb = CountingEmbedder()
    release = rel.build_release(library.root, releases, emb, actor="测试", seed=seed)
    guide = library.corpus().document("guide")
    assert guide is not None
    # Only the guide's passages (whole chunks and sentences) and nothing of the primary reached the model.
    assert release.embedded == emb.passages_embedded == len(rel.passages_of(guide.chunks))
    assert rel.current_version(releases) == release.version
    assert rel.read_status(releases).state == "published"  # type: ignore[union-attr]

    bot = load_release(release, "chars")
    answer = bot.ask("一次性创业补贴需要哪些申请材料")
    assert any(m.id.startswith("guide:") for m in answer.measures)
    assert "0532-87869876" in answer.answer
    # The served Assistant is independent of the library: staff deleting the file does not change this version.
    library.delete("guide")
    assert load_release(release, "chars").corpus.document("guide") is not None

    # The next build reuses the release's vectors: nothing at all is embedded again.
    emb2 = CountingEmbedder()
    again = rel.build_release(library.root, releases, emb2)
    assert again.embedded == 0 and emb2.passages_embedded == 0 and again.version != release.version


def test_a_failed_build_leaves_the_previous_version_serving_and_says_why(library: Librarian, tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    first = rel.build_release(library.root, releases, CharEmbedder())

    def disk_full(_tmp: Path) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        rel.build_release(library.root, releases, CharEmbedder(), actor="张三", before_swap=disk_full)
    assert rel.current_version(releases) == first.version
    status = rel.read_status(releases)
    assert (
        status is not None and status.state == "failed" and "No space left" in status.reason and status.actor == "张三"
    )
    assert not [p for p in releases.iterdir() if p.name.startswith(".build-")]


def test_a_replica_swaps_to_a_new_version_and_answers_from_the_old_one_meanwhile(
    library: Librarian, tmp_path: Path
) -> None:
    releases = tmp_path / "releases"
    first = rel.build_release(library.root, releases, CharEmbedder())
    holder: dict[str, Assistant] = {"bot": load_release(first, "chars")}
    live = LiveRelease(releases, lambda bot: holder.__setitem__("bot", bot), lambda: "chars", interval=0.0)
    assert live.served == first.version

    library.publish(stage(library, GUIDE.read_bytes(), "g.txt").token, "guide")
    gate = threading.Event()
    publisher = Publisher(library.root, releases, CharEmbedder)
    original = rel.build_index

    def slow_build(*args, **kwargs):  # type: ignore[no-untyped-def]
        gate.wait(10)
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rel, "build_index", slow_build)
        publisher.request("测试")
        # During the build, the old version answers (without the guide) and nothing is swapped.
        live.poll()
        assert holder["bot"].corpus.document("guide") is None
        assert holder["bot"].ask("一次性创业补贴申请材料").phone
        gate.set()
        publisher.join()
    assert publisher.last is not None
    assert live.wait(publisher.last.version, timeout=20)
    assert holder["bot"].corpus.document("guide") is not None


def test_passage_cache_is_keyed_by_text() -> None:
    emb = rel.CachingEmbedder(CharEmbedder(), {"甲": np.ones(512, dtype=np.float32)})
    out = emb.passages(["甲", "乙", "乙"])
    assert out.shape == (3, 512) and emb.embedded == 1 and float(out[0].sum()) == 512.0


# -- the audit trail -----------------------------------------------------------------------------


def test_each_action_is_recorded_with_who_when_what_and_quotes_are_counted_per_document(tmp_path: Path) -> None:
    import datetime as dt

    from assistant.store import Database, resolve_url
    from assistant.store.audit import history, quotes_by_document, record
    from assistant.store.schema import questions

    db = Database(resolve_url(tmp_path, None))
    try:
        record(db, "管理员(来自 127.0.0.1)", "publish", "guide", {"title": "指南（示例）", "version": "v1"})
        record(db, "管理员(来自 127.0.0.1)", "withdraw", "guide", {"superseded_by": "guide2"})
        entries = history(db)
        assert [(e.action, e.doc_id) for e in entries] == [("withdraw", "guide"), ("publish", "guide")]
        assert entries[1].detail["title"] == "指南（示例）" and entries[0].actor.startswith("管理员")
        assert dt.datetime.fromisoformat(entries[0].created).tzinfo is not None
        now = dt.datetime.now(dt.UTC)
        rows = [
            {"created": now.isoformat(), "question": "q", "chunk_ids": '["guide:f5", "guide:f6", "m3"]', "scores": "[1,1,1]",
             "matched": 1, "kind": "measure", "latency_ms": 1.0, "channel": "web"},
            {"created": (now - dt.timedelta(days=40)).isoformat(), "question": "q", "chunk_ids": '["guide:f5"]',
             "scores": "[1]", "matched": 1, "kind": "measure", "latency_ms": 1.0, "channel": "web"},
        ]  # fmt: skip
        with db._write() as conn:
            conn.execute(questions.insert(), rows)
        counts = quotes_by_document(db, (now - dt.timedelta(days=30)).isoformat())
        assert counts["guide"] == 1 and counts[""] == 1  # one question quoting two of its chunks counts once
    finally:
        db.close()


@pytest.mark.parametrize(
    ("name", "phone"),
    [
        ("guide-startup-subsidy.docx", "0532-87865432"),
        ("notice-spring-fair.pdf", None),
        ("qa-employment-subsidy.html", None),
    ],
)
def test_each_published_format_is_staged_by_its_content_and_previewed(
    library: Librarian, name: str, phone: str | None
) -> None:
    data = (REPO / "tests" / "fixtures" / "library" / name).read_bytes()
    staged = stage(library, data, f"../上传/{name}")
    assert staged.format == Path(name).suffix.lstrip(".")
    preview = library.preview(staged.token)
    assert len(preview.document.chunks) >= 2 and preview.document.meta.title.endswith("（示例）")
    if phone:
        assert preview.document.meta.phone == phone
    change = library.publish(staged.token, preview.doc_id)
    assert (library.root / f"{change.doc_id}{Path(name).suffix}").read_bytes() == data


def test_start_up_serves_the_published_version_unless_the_library_was_edited_outside_admin(
    library: Librarian, tmp_path: Path
) -> None:
    from assistant.publishing.live import load_current

    releases = tmp_path / "releases"
    assert load_current(releases, "chars", library.root) is None  # nothing published yet
    library.publish(stage(library, GUIDE.read_bytes(), "g.txt").token, "guide")
    release = rel.build_release(library.root, releases, CharEmbedder())
    # Housekeeping (versions kept for undo, uploads waiting in staging) is not an edit.
    stage(library, GUIDE.read_bytes(), "pending.txt")
    assert rel.matches_library(release, library.root)
    bot = load_current(releases, "chars", library.root)
    assert bot is not None and bot.corpus.document("guide") is not None
    # A file copied in by hand (or `policy-assistant add`) since: the library as it is now is served instead.
    shutil.copy(GUIDE, library.root / "by-hand.txt")
    assert not rel.matches_library(release, library.root)
    assert load_current(releases, "chars", library.root) is None
