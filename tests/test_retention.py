"""Retention: questions older than the configured period are deleted by the server itself, as the
privacy notice promises; newer ones and their feedback stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.qlog import LogEntry, QuestionLog, new_answer_id
from web.questions import QuestionRecorder

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def entry(days_ago: float, answer_id: str | None = None) -> LogEntry:
    return LogEntry(
        question=f"{days_ago}天前的问题",
        chunk_ids=("m3",),
        scores=(0.9,),
        matched=True,
        kind="answer",
        latency_ms=10.0,
        channel="api",
        created=(NOW - timedelta(days=days_ago)).isoformat(),
        answer_id=answer_id,
    )


def test_purge_removes_only_rows_older_than_the_period(tmp_path: Path) -> None:
    old_id, new_id = new_answer_id(), new_answer_id()
    with QuestionLog(tmp_path) as qlog:
        qlog.record(entry(200, old_id))
        qlog.record(entry(181))
        qlog.record(entry(179, new_id))
        qlog.record(entry(1))
        qlog.record_feedback(old_id, False, "没用", created=(NOW - timedelta(days=200)).isoformat())
        qlog.record_feedback(new_id, True, created=(NOW - timedelta(days=179)).isoformat())
        assert qlog.purge(180, now=NOW) == 2
        kept = sorted(e.question for e in qlog.recent(10))
        assert kept == ["179天前的问题", "1天前的问题"]
        assert qlog.feedback_for(old_id) is None and qlog.feedback_for(new_id) is not None
        assert qlog.purge(180, now=NOW) == 0  # idempotent
    with pytest.raises(ValueError):
        QuestionLog(tmp_path).purge(0)


def test_the_recorder_purges_on_its_first_write_and_then_only_periodically(tmp_path: Path) -> None:
    with QuestionLog(tmp_path) as qlog:
        qlog.record(entry(400))
    ticks = iter([0.0, 0.0, 10.0, 10.0, 20.0, 20.0])
    recorder = QuestionRecorder(tmp_path, clock=lambda: next(ticks), retention_days=180)
    assert recorder.record(entry(0))
    with QuestionLog(tmp_path) as qlog:
        assert [e.question for e in qlog.recent(10)] == ["0天前的问题"]
        qlog.record(entry(400))  # an old row written behind its back…
    assert recorder.record(entry(0))
    with QuestionLog(tmp_path) as qlog:
        assert qlog.count() == 3  # …is not purged again within the interval
    recorder.close()


def test_without_a_retention_period_nothing_is_deleted(tmp_path: Path) -> None:
    with QuestionLog(tmp_path) as qlog:
        qlog.record(entry(4000))
    recorder = QuestionRecorder(tmp_path)
    assert recorder.record(entry(0))
    recorder.close()
    with QuestionLog(tmp_path) as qlog:
        assert qlog.count() == 2
