"""The question log keeps what operators need and nothing that identifies the person asking.

Tests taking the `qlog` fixture run against both backends: the SQLite file and a real PostgreSQL
server (Debian's, started on loopback; skipped locally when it is not installed, a failure under
CI=true). Tests about files, modes and SQLite's own version marker use SQLite only.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assistant.qlog import DB_FILENAME, SCHEMA_VERSION, LogEntry, QuestionLog, QuestionLogError, default_data_dir
from assistant.store.pgcluster import PgCluster, missing_reason, temporary_cluster

ID_NUMBER = "370202198511150013"  # valid checksum
MOBILE = "13812345678"


def entry(question: str = "灵活就业社保补贴怎么申请？", **overrides: Any) -> LogEntry:
    fields: dict[str, Any] = {
        "question": question,
        "chunk_ids": ("p1-s2", "p3-s1"),
        "scores": (0.82, 0.41),
        "matched": True,
        "kind": "answer",
        "latency_ms": 12.5,
        "channel": "web",
        "session_id": "sess_abc-123-0f9e8d7c",
    }
    fields.update(overrides)
    return LogEntry(**fields)


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":  # CI installs postgresql: missing is a failure there
            pytest.fail(reason)
        pytest.skip(reason)
    with temporary_cluster() as cluster:
        yield cluster


def fresh_database(cluster: PgCluster) -> str:
    """The cluster's database with an empty schema (no tables, no migration version)."""
    engine = sa.create_engine(cluster.url())
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return cluster.url_string()


@pytest.fixture(params=["sqlite", "postgresql"])
def qlog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QuestionLog]:
    url = "" if request.param == "sqlite" else fresh_database(request.getfixturevalue("pg_cluster"))
    log = QuestionLog(tmp_path / "data", url)
    assert log.backend == request.param
    yield log
    log.close()


def test_round_trip_keeps_every_field(qlog: QuestionLog) -> None:
    original = entry(created="2025-03-01T08:30:00+08:00")
    qlog.record(original)
    (stored,) = qlog.recent()
    assert stored.question == original.question
    assert stored.chunk_ids == ("p1-s2", "p3-s1")
    assert stored.scores == (0.82, 0.41)
    assert stored.matched is True
    assert (stored.kind, stored.latency_ms, stored.channel) == ("answer", 12.5, "web")
    assert stored.session_id == qlog.session_hash("sess_abc-123-0f9e8d7c") != "sess_abc-123-0f9e8d7c"
    assert stored.created == "2025-03-01T00:30:00.000000+00:00"  # converted to UTC


def test_created_is_filled_in_as_utc_now(qlog: QuestionLog) -> None:
    before = datetime.now(UTC)
    qlog.record(entry())
    after = datetime.now(UTC)
    (stored,) = qlog.recent()
    assert stored.created is not None
    created = datetime.fromisoformat(stored.created)
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert before <= created <= after


def test_recent_is_newest_first_and_limited(qlog: QuestionLog) -> None:
    for i in range(5):
        qlog.record(entry(f"问题{i}"))
    assert [e.question for e in qlog.recent(3)] == ["问题4", "问题3", "问题2"]
    assert qlog.recent(0) == []
    assert qlog.count() == 5


def test_id_numbers_never_reach_the_database_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = QuestionLog(data_dir)
    log.record(entry(f"我的身份证号是{ID_NUMBER}，手机{MOBILE}，补贴什么时候到账？"))
    assert log.recent()[0].question == "我的身份证号是[身份证号]，手机[手机号]，补贴什么时候到账？"

    def raw_bytes() -> bytes:
        return b"".join(p.read_bytes() for p in data_dir.iterdir() if p.name.startswith(DB_FILENAME))

    # While open, the new row lives in the -wal file; check it before and after a checkpoint.
    assert (data_dir / f"{DB_FILENAME}-wal").exists()
    for needle in (ID_NUMBER, MOBILE):
        assert needle.encode() not in raw_bytes()
    with sqlite3.connect(data_dir / DB_FILENAME) as probe:
        probe.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    probe.close()
    log.close()
    for needle in (ID_NUMBER, MOBILE):
        assert needle.encode() not in raw_bytes()
        assert needle.encode("utf-16-le") not in raw_bytes()
    assert "[身份证号]".encode() in (data_dir / DB_FILENAME).read_bytes()


def test_sixteen_threads_lose_no_rows(qlog: QuestionLog) -> None:
    threads, per_thread = 16, 50
    start = threading.Barrier(threads)

    def write(worker: int) -> None:
        start.wait()  # all threads hit the database at the same moment
        for i in range(per_thread):
            qlog.record(entry(f"线程{worker}问题{i}", session_id=f"t{worker}"))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(write, w) for w in range(threads)]:
            future.result()  # re-raises "database is locked" if it ever happened

    assert qlog.count() == threads * per_thread
    questions = {e.question for e in qlog.recent(10_000)}
    assert questions == {f"线程{w}问题{i}" for w in range(threads) for i in range(per_thread)}


def test_two_logs_on_one_file_from_many_threads(tmp_path: Path) -> None:
    # Two QuestionLog objects stand in for two server worker processes sharing the data dir.
    logs = [QuestionLog(tmp_path), QuestionLog(tmp_path)]
    start = threading.Barrier(16)

    def write(worker: int) -> None:
        start.wait()
        for i in range(25):
            logs[worker % 2].record(entry(f"{worker}-{i}", channel="api"))

    with ThreadPoolExecutor(max_workers=16) as pool:
        for future in [pool.submit(write, w) for w in range(16)]:
            future.result()
    assert logs[0].count() == logs[1].count() == 16 * 25
    for log in logs:
        log.close()


@pytest.mark.parametrize(
    "session_id",
    [
        "", "x" * 65, "abc def", "abc\n123", "会话1", "a;DROP TABLE questions", "../etc", 42,
        "a", "Sess_01-AB",  # shorter than a random token
        "1234567890123456",  # all digits
        ID_NUMBER, "110105-19491231-002X", f"sess{MOBILE}", "card4111111111111111",  # personal data in token shape
    ],
)  # fmt: skip
def test_a_session_id_that_is_not_an_opaque_token_is_dropped(qlog: QuestionLog, session_id: object) -> None:
    qlog.record(entry(session_id=session_id))
    assert qlog.recent()[0].session_id is None
    assert qlog.count() == 1
    if isinstance(session_id, str) and len(session_id) >= 8:
        raw = b"".join(p.read_bytes() for p in qlog.data_dir.iterdir())
        assert session_id.encode() not in raw


# A fixed UUID, not uuid.uuid4(): about 2 % of random ones carry a run that reads as a mobile number
# (58b17930-3087-44ae… → 179 3030 874) and are rightly dropped, which failed this test now and then.
@pytest.mark.parametrize(
    "session_id", ["0123456789abcdef0123456789abcdef", "x" * 64, "Sess_01-ABcd-efgh", pytest.param("3f2a9c1e-7b4d-4e8a-9c2f-5d6e7a8b9c0d", id="uuid")]
)
def test_a_session_id_is_stored_as_a_keyed_hash_never_as_sent(qlog: QuestionLog, session_id: str) -> None:
    qlog.record(entry(session_id=session_id))
    qlog.record(entry(session_id=session_id))
    qlog.record(entry(session_id=session_id + "-other"))
    third, second, first = (e.session_id for e in qlog.recent())
    assert first == second != third  # one session's questions still group together …
    assert first and session_id not in first  # … under a value that is not the one sent
    raw = b"".join(p.read_bytes() for p in qlog.data_dir.iterdir() if p.name != "session.key")
    assert session_id.encode() not in raw
    # Keyed: the same id in another data directory (another key) hashes differently.
    key = qlog.data_dir / "session.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32


def test_the_hash_depends_on_the_data_directorys_key(tmp_path: Path) -> None:
    token = "0123456789abcdef0123456789abcdef"
    with QuestionLog(tmp_path / "a") as a, QuestionLog(tmp_path / "b") as b:
        assert a.session_hash(token) != b.session_hash(token)
    with QuestionLog(tmp_path / "a") as again:  # the key survives a restart
        assert again.session_hash(token) == QuestionLog(tmp_path / "a").session_hash(token)


def test_data_dir_is_private_and_database_files_are_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    with QuestionLog(data_dir) as log:
        log.record(entry())
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        files = sorted(p.name for p in data_dir.iterdir())
        assert {DB_FILENAME, f"{DB_FILENAME}-wal", "session.key"} <= set(files)
        for p in data_dir.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name


def test_data_dir_is_created_on_demand(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet" / "there"
    with QuestionLog(data_dir) as log:
        assert log.count() == 0
    assert (data_dir / DB_FILENAME).is_file()
    with sqlite3.connect(data_dir / DB_FILENAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_reopening_keeps_existing_rows(tmp_path: Path) -> None:
    with QuestionLog(tmp_path) as log:
        log.record(entry("第一次"))
    with QuestionLog(tmp_path) as log:
        log.record(entry("第二次"))
        assert [e.question for e in log.recent()] == ["第二次", "第一次"]


def test_log_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(QuestionLogError, match="较新版本"):
        QuestionLog(tmp_path)


def test_stats_for_operators(qlog: QuestionLog) -> None:
    assert qlog.stats().total == 0 and qlog.stats().matched_share == 0.0
    qlog.record(entry(chunk_ids=("a", "b"), scores=(0.9, 0.5)))
    qlog.record(entry(chunk_ids=("a",), scores=(0.8,)))
    qlog.record(entry(chunk_ids=("c", "a"), scores=(0.7, 0.6)))
    qlog.record(entry(chunk_ids=(), scores=(), matched=False, kind="no_match"))
    stats = qlog.stats(top=2)
    assert (stats.total, stats.matched) == (4, 3)
    assert stats.matched_share == pytest.approx(0.75)
    assert stats.top_chunks == (("a", 3), ("b", 1))


def test_lists_from_the_retriever_are_accepted_and_frozen() -> None:
    e = LogEntry("问题", ["a", "b"], [0.5, 0.25], True, "answer", 3.0, "cli")  # type: ignore[arg-type]
    assert e.chunk_ids == ("a", "b") and e.scores == (0.5, 0.25)


@pytest.mark.parametrize(
    "overrides",
    [{"channel": "sms"}, {"scores": (0.1,)}, {"latency_ms": float("nan")}, {"latency_ms": -1.0}],
)
def test_malformed_entries_are_rejected_when_built(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        entry(**overrides)


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("POLICY_ASSISTANT_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == tmp_path / "var"
    monkeypatch.setenv("POLICY_ASSISTANT_DATA", str(tmp_path / "elsewhere"))
    assert default_data_dir() == tmp_path / "elsewhere"


def test_votes_and_reads_for_the_dashboard(qlog: QuestionLog) -> None:
    qlog.record(entry("旧问题", created="2025-01-01T00:00:00+00:00", answer_id="a" * 24))
    qlog.record(entry("新问题", created="2025-02-01T00:00:00+00:00", answer_id="b" * 24))
    assert qlog.record_feedback("a" * 24, True, "谢谢") is not None
    vote = qlog.record_feedback("a" * 24, False, f"手机{MOBILE}")  # the later vote counts
    assert vote is not None and vote.helpful is False and vote.comment == "手机[手机号]"
    assert qlog.record_feedback("c" * 24, True) is None  # no such answer: nothing stored
    rows = qlog.between("2025-01-01T00:00:00+00:00", "2025-01-31T00:00:00+00:00")
    assert [(r.entry.question, r.feedback.helpful if r.feedback else None) for r in rows] == [("旧问题", False)]
    assert [r.entry.question for r in qlog.between("2024-12-31T00:00:00+00:00")] == ["旧问题", "新问题"]
    stats = qlog.stats()
    assert (stats.helpful, stats.unhelpful) == (0, 1)
    assert qlog.purge(1, now=datetime(2025, 1, 15, tzinfo=UTC)) == 1
    assert [e.question for e in qlog.recent()] == ["新问题"] and qlog.feedback_for("a" * 24) is None


def test_awkward_text_is_stored_on_every_backend(qlog: QuestionLog) -> None:
    # A NUL (legal in JSON, refused by PostgreSQL) becomes U+FFFD, a lone surrogate (not UTF-8) "?".
    qlog.record(entry("补贴\x00怎么\ud800申请"))
    assert qlog.recent()[0].question == "补贴\ufffd怎么?申请"


def test_a_batch_is_one_transaction(qlog: QuestionLog) -> None:
    qlog.record_many([entry(f"批量{i}") for i in range(100)])
    assert qlog.count() == 100
    with pytest.raises(ValueError):
        qlog.record_many([entry("好的"), entry("坏的", created="not a time")])
    assert qlog.count() == 100  # neither of the failed batch's entries landed
