"""The storage layer: the batching writer, the queued recorder, migrations, and a real outage."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.config import Settings
from assistant.qlog import LogEntry, QuestionLog
from assistant.store import HEAD_REVISION, BatchWriter, Database, QuestionLogError, resolve_url
from assistant.store.pgcluster import PgCluster, missing_reason, temporary_cluster
from web.app import create_app
from web.questions import QuestionRecorder
from web.settings import WebSettings


def entry(question: str = "灵活就业社保补贴怎么申请？", **overrides: Any) -> LogEntry:
    fields: dict[str, Any] = {
        "question": question,
        "chunk_ids": ("m3",),
        "scores": (0.9,),
        "matched": True,
        "kind": "answer",
        "latency_ms": 5.0,
        "channel": "api",
    }
    fields.update(overrides)
    return LogEntry(**fields)


# ---- the writer -----------------------------------------------------------------------------------


class Sink:
    """Records batches; fails while `down` is set; can be held to let a queue fill up."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.attempts = 0
        self.down = False
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, items: Sequence[int]) -> None:
        self.gate.wait(10)
        self.attempts += 1
        if self.down:
            raise ConnectionError("database unreachable")
        self.batches.append(list(items))

    @property
    def items(self) -> list[int]:
        return [i for b in self.batches for i in b]


def test_the_writer_batches_what_queued_up_and_keeps_the_order() -> None:
    sink = Sink()
    writer = BatchWriter(sink, capacity=1000, batch_size=50)
    sink.gate.clear()  # the first batch is held, so the rest queue up behind it
    assert writer.submit(0)
    time.sleep(0.05)
    assert all(writer.submit(i) for i in range(1, 200))
    sink.gate.set()
    assert writer.flush(5)
    assert sink.items == list(range(200))
    assert len(sink.batches) <= 6 and max(map(len, sink.batches)) == 50  # 1 + 199 in batches of ≤ 50
    stats = writer.stats
    assert (stats.written, stats.dropped, stats.queued, stats.failing) == (200, 0, 0, False)
    assert writer.close() == 0


def test_overflow_is_dropped_counted_and_never_blocks(caplog: pytest.LogCaptureFixture) -> None:
    sink = Sink()
    sink.gate.clear()
    writer = BatchWriter(sink, capacity=10)
    accepted = [writer.submit(i) for i in range(100)]
    # A full queue costs the request nothing: every submit returned while the sink's first call is
    # still held at the gate (a submit that waited for room would have needed a batch written).
    assert sink.attempts == 0
    assert 10 <= accepted.count(True) <= 11 and writer.stats.dropped == accepted.count(False)
    assert writer.stats.last_drop is not None
    sink.gate.set()
    assert writer.close() == 0  # what was accepted is written at shutdown
    assert sink.items == [i for i, ok in enumerate(accepted) if ok]
    assert sum("丢弃" in r.getMessage() for r in caplog.records) == 1  # one line per episode


def test_an_outage_keeps_the_batch_and_writes_it_when_the_database_is_back() -> None:
    sink = Sink()
    sink.down = True
    failures: list[BaseException] = []
    recovered = threading.Event()
    writer = BatchWriter(sink, max_retry_seconds=0.05, on_failure=failures.append, on_recovery=recovered.set)
    for i in range(5):
        writer.submit(i)
    deadline = time.monotonic() + 30
    while sink.attempts < 3:  # the first try and two retries
        assert time.monotonic() < deadline, "the writer never retried"
        time.sleep(0.01)
    assert writer.stats.failing and "unreachable" in (writer.stats.error or "") and writer.stats.queued == 5
    assert len(failures) == 1  # reported once, not once per retry
    sink.down = False
    assert recovered.wait(5) and writer.flush(5)
    assert sorted(sink.items) == list(range(5)) and not writer.stats.failing
    writer.close()


def test_closing_during_an_outage_counts_what_is_lost() -> None:
    sink = Sink()
    sink.down = True
    writer = BatchWriter(sink, max_retry_seconds=0.05)
    for i in range(7):
        writer.submit(i)
    time.sleep(0.1)
    assert writer.close(timeout=5) == 7
    assert writer.stats.dropped == 7 and not writer.submit(8)


# ---- the queued recorder and the app ----------------------------------------------------------------


def test_the_recorder_queues_and_a_clean_close_loses_nothing(tmp_path: Path) -> None:
    recorder = QuestionRecorder(tmp_path, queue_size=1000)
    assert all(recorder.record(entry(f"问题{i}")) for i in range(300))
    recorder.close()
    with QuestionLog(tmp_path, "") as log:
        assert log.count() == 300


def test_the_app_with_a_queue_answers_logs_and_takes_votes_at_once(tmp_path: Path, chars_assistant: Assistant) -> None:
    settings = WebSettings(data_dir=tmp_path, rate_limit=None, log_queue=100)
    with TestClient(create_app(chars_assistant, settings)) as c:
        answer = c.post("/api/ask", json={"question": "送外卖的骑手有没有保险补贴？"}).json()
        # The vote may arrive before the writer thread has run: it waits for its answer's row.
        vote = c.post("/api/feedback", json={"answer_id": answer["answer_id"], "helpful": True})
        assert vote.status_code == 200, vote.text
        assert c.get("/healthz").json()["question_log"] == "ok"
    with QuestionLog(tmp_path, "") as log:
        (logged,) = log.between("2000-01-01")
    assert logged.entry.answer_id == answer["answer_id"] and logged.feedback and logged.feedback.helpful


# ---- migrations and configuration ---------------------------------------------------------------------


def test_the_head_revision_constant_matches_the_migrations() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from assistant.store.database import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


def test_the_schema_is_migrated_once_and_a_newer_revision_is_refused(tmp_path: Path) -> None:
    url = resolve_url(tmp_path, None)
    Database(url).close()
    db = Database(url)
    with db.engine.begin() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff'"))
    db.close()
    with pytest.raises(QuestionLogError, match="较新版本"):
        Database(url)


@pytest.mark.parametrize(
    ("value", "message"),
    [("mysql://u@h/db", "只支持"), ("not a url", "无法识别"), ("sqlite://", "只支持")],
)
def test_an_unusable_database_url_is_refused_with_a_reason(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(QuestionLogError, match=message):
        resolve_url(tmp_path, value)


def test_a_bad_database_url_degrades_the_app_it_does_not_stop_it(tmp_path: Path, chars_assistant: Assistant) -> None:
    settings = WebSettings(data_dir=tmp_path, rate_limit=None, database_url="mysql://u:pw@h/db")
    with TestClient(create_app(chars_assistant, settings)) as c:
        assert c.post("/api/ask", json={"question": "灵活就业"}).status_code == 200
        health = c.get("/healthz").json()
    assert health["question_log"] == "failing" and "只支持" in health["reason"] and "pw" not in health["reason"]


def test_one_settings_model_reads_every_variable() -> None:
    env = {
        "POLICY_ASSISTANT_DATABASE_URL": "postgresql://u:secret@db/policy",
        "POLICY_ASSISTANT_EMBEDDER": "chars",
        "POLICY_ASSISTANT_INDEX": "/srv/index",
        "POLICY_ASSISTANT_LOG_QUEUE": "500",
        "POLICY_ASSISTANT_RATE_LIMIT_STORAGE": "redis://cache:6379/0",
    }
    settings = Settings.from_env(env)
    assert (settings.embedder, settings.index_dir, settings.log_queue) == ("chars", Path("/srv/index"), 500)
    assert "secret" not in repr(settings)
    web = WebSettings.from_env(env)
    assert web.database_url == env["POLICY_ASSISTANT_DATABASE_URL"] and "secret" not in repr(web)
    assert web.rate_limit_storage == "redis://cache:6379/0" and web.log_queue == 500
    assert WebSettings().log_queue == 0 and WebSettings.from_env({}).log_queue == 10_000


# ---- a real PostgreSQL going away and coming back -----------------------------------------------------


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with temporary_cluster() as cluster:
        yield cluster


def test_a_postgresql_outage_is_reported_and_the_queue_is_written_afterwards(
    pg_cluster: PgCluster, tmp_path: Path, chars_assistant: Assistant
) -> None:
    settings = WebSettings(data_dir=tmp_path, rate_limit=None, database_url=pg_cluster.url_string(), log_queue=100)
    app = create_app(chars_assistant, settings)
    with TestClient(app) as c:
        assert c.post("/api/ask", json={"question": "灵活就业"}).status_code == 200
        assert app.state.recorder.flush(10)
        pg_cluster.stop()
        try:
            started = time.monotonic()
            assert c.post("/api/ask", json={"question": "创业担保贷款"}).status_code == 200
            assert time.monotonic() - started < 2  # answering never waits for the database
            deadline = time.monotonic() + 15
            while c.get("/healthz").json()["question_log"] != "failing" and time.monotonic() < deadline:
                time.sleep(0.1)
            health = c.get("/healthz").json()
            assert health["status"] == "degraded" and "问题日志" in health["reason"], health
            assert pg_cluster.password not in health["reason"]
        finally:
            pg_cluster.start()
        assert app.state.recorder.flush(40)  # the entry kept through the outage is written now
        assert c.get("/healthz").json()["question_log"] == "ok"
    with QuestionLog(tmp_path, pg_cluster.url_string()) as log:
        assert {e.question for e in log.recent()} >= {"灵活就业", "创业担保贷款"}
