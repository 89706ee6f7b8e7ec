"""Feedback on answers (issue 12): the answer id, one vote per answer, redaction, limits, the log schema."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.qlog import DB_FILENAME, SCHEMA_VERSION, LogEntry, QuestionLog, new_answer_id
from web.app import create_app
from web.settings import Rate, WebSettings

M3_QUESTION = "灵活就业人员意外伤害保险补贴"
ID_NUMBER = "370202198511150013"
MOBILE = "13812345678"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(chars_assistant: Assistant, data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(chars_assistant, WebSettings(data_dir=data_dir, rate_limit=None))) as c:
        yield c


def ask(client: TestClient, question: str = M3_QUESTION, **extra: Any) -> dict[str, Any]:
    resp = client.post("/api/ask", json={"question": question, **extra})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_every_answer_has_its_own_opaque_id_stored_with_its_question(client: TestClient, data_dir: Path) -> None:
    first, second = ask(client), ask(client)
    assert first["answer_id"] != second["answer_id"]  # same question, same cached answer, new id
    assert re.fullmatch(r"[a-z2-7]{24}", first["answer_id"])
    with QuestionLog(data_dir) as log:
        stored = {e.answer_id: e for e in log.recent()}
    assert stored[first["answer_id"]].question == M3_QUESTION
    assert stored[first["answer_id"]].chunk_ids[0] == "m3"


def test_a_vote_is_stored_and_counted_and_the_last_one_counts(client: TestClient, data_dir: Path) -> None:
    answer_id = ask(client)["answer_id"]
    resp = client.post("/api/feedback", json={"answer_id": answer_id, "helpful": True})
    assert resp.status_code == 200
    assert resp.json()["helpful"] is True and "感谢" in resp.json()["message"]
    resp = client.post("/api/feedback", json={"answer_id": answer_id, "helpful": False, "comment": "没说去哪办"})
    assert resp.status_code == 200 and resp.json()["comment"] == "没说去哪办"
    other = ask(client, "你好")["answer_id"]
    assert client.post("/api/feedback", json={"answer_id": other, "helpful": True}).status_code == 200
    with QuestionLog(data_dir) as log:
        stats = log.stats()
        vote = log.feedback_for(answer_id)
    assert (stats.helpful, stats.unhelpful) == (1, 1)  # one vote per answer: the second replaced the first
    assert vote is not None and vote.helpful is False and vote.comment == "没说去哪办"
    assert vote.updated >= vote.created


def test_personal_data_in_a_comment_is_redacted_before_it_is_stored(client: TestClient, data_dir: Path) -> None:
    answer_id = ask(client)["answer_id"]
    comment = f"我身份证{ID_NUMBER},电话{MOBILE},一直没到账"
    resp = client.post("/api/feedback", json={"answer_id": answer_id, "helpful": False, "comment": comment})
    assert resp.status_code == 200
    assert resp.json()["comment"] == "我身份证[身份证号],电话[手机号],一直没到账"
    raw = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.name.startswith(DB_FILENAME))
    assert ID_NUMBER.encode() not in raw and MOBILE.encode() not in raw


def test_a_comment_keeps_no_control_or_bidi_characters(client: TestClient, data_dir: Path) -> None:
    # A right-to-left override would make the comment read differently on the staff dashboard.
    answer_id = ask(client)["answer_id"]
    comment = "没说\u202e办哪去\u202c在\x00哪里\u200b办"
    resp = client.post("/api/feedback", json={"answer_id": answer_id, "helpful": False, "comment": comment})
    assert resp.status_code == 200 and resp.json()["comment"] == "没说办哪去在哪里办"
    with QuestionLog(data_dir) as log:
        vote = log.feedback_for(answer_id)
    assert vote is not None and vote.comment == "没说办哪去在哪里办"


@pytest.mark.parametrize("answer_id", ["a" * 24, pytest.param(new_answer_id(), id="fresh-id"), "not-an-id", "x"])
def test_an_unknown_answer_is_404_in_chinese(client: TestClient, answer_id: str) -> None:
    resp = client.post("/api/feedback", json={"answer_id": answer_id, "helpful": True})
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found" and "答复" in resp.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"helpful": True},
        {"answer_id": "a" * 24},
        {"answer_id": "a" * 24, "helpful": "yes"},
        {"answer_id": "a" * 24, "helpful": 1},
        {"answer_id": "a" * 24, "helpful": False, "comment": "长" * 201},
        {"answer_id": "a" * 65, "helpful": False},
    ],
)
def test_malformed_votes_are_422(client: TestClient, body: dict[str, Any]) -> None:
    resp = client.post("/api/feedback", json=body)
    assert resp.status_code == 422
    assert re.search(r"[\u4e00-\u9fff]", resp.json()["message"])


def test_a_200_character_comment_is_accepted(client: TestClient) -> None:
    answer_id = ask(client)["answer_id"]
    resp = client.post("/api/feedback", json={"answer_id": answer_id, "helpful": False, "comment": "慢" * 200})
    assert resp.status_code == 200 and len(resp.json()["comment"]) == 200


def test_votes_are_rate_limited_like_questions_but_in_their_own_bucket(chars_assistant: Assistant, tmp_path: Path) -> None:
    settings = WebSettings(data_dir=tmp_path, rate_limit=Rate(3, 60.0))
    with TestClient(create_app(chars_assistant, settings)) as c:
        answer_id = ask(c)["answer_id"]
        codes = [c.post("/api/feedback", json={"answer_id": answer_id, "helpful": True}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = c.post("/api/feedback", json={"answer_id": answer_id, "helpful": True})
        assert int(limited.headers["Retry-After"]) >= 1
        assert c.post("/api/ask", json={"question": "你好"}).status_code == 200  # questions still have budget


def test_feedback_without_a_question_log_says_so(chars_assistant: Assistant) -> None:
    with TestClient(create_app(chars_assistant, WebSettings(question_log=False, rate_limit=None))) as c:
        answer_id = ask(c)["answer_id"]
        resp = c.post("/api/feedback", json={"answer_id": answer_id, "helpful": True})
        assert resp.status_code == 503 and "未启用" in resp.json()["message"]


def test_the_log_records_whether_the_previous_answer_was_used(client: TestClient, data_dir: Path) -> None:
    first = ask(client, "重点群体就业创业税收优惠政策")
    follow = ask(client, "那找哪个部门?", context=[m["id"] for m in first["measures"]])
    assert "城阳区税务局" in follow["answer"]
    with QuestionLog(data_dir) as log:
        by_id = {e.answer_id: e for e in log.recent()}
    assert by_id[first["answer_id"]].context_used is False
    assert by_id[follow["answer_id"]].context_used is True


# ---- schema migration ----------------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, question TEXT NOT NULL,
    chunk_ids TEXT NOT NULL, scores TEXT NOT NULL, matched INTEGER NOT NULL CHECK (matched IN (0, 1)),
    kind TEXT NOT NULL, latency_ms REAL NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('web', 'api', 'cli')), session_id TEXT
);
CREATE INDEX questions_created ON questions (created);
PRAGMA user_version = 1;
"""


def test_a_version_1_log_is_migrated_and_its_rows_stay_readable(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        conn.executescript(V1_SCHEMA)
        conn.execute(
            "INSERT INTO questions (created, question, chunk_ids, scores, matched, kind, latency_ms, channel)"
            " VALUES ('2024-08-01T02:00:00.000000+00:00', '旧问题', ?, ?, 1, 'answer', 12.0, 'web')",
            (json.dumps(["m3"]), json.dumps([0.8])),
        )
    conn.close()
    with QuestionLog(tmp_path) as log:
        (old,) = log.recent()
        assert (old.question, old.chunk_ids, old.channel) == ("旧问题", ("m3",), "web")
        assert old.answer_id is None and old.context_used is None  # unknown, not "no"
        answer_id = new_answer_id()
        log.record(LogEntry("新问题", ("m7",), (0.9,), True, "answer", 5.0, "wechat", answer_id=answer_id, context_used=True))
        assert log.record_feedback(answer_id, False, "不清楚") is not None
        assert [e.question for e in log.recent()] == ["新问题", "旧问题"]
        assert log.stats().unhelpful == 1
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert conn.execute("SELECT id FROM questions WHERE question = '旧问题'").fetchone()[0] == 1
    conn.close()
