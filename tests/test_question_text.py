"""Issue 22 (6): questions that are not text. NUL, bidi controls and other control or format characters
are removed before a question is stored or shown; a question of only invisible or blank characters
is refused like an empty one, at every edge (HTTP 422, CLI exit 2, InvalidQuestion in Python)."""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant import Assistant, InvalidQuestion
from assistant.cli import main
from assistant.service import check_question
from assistant.visible import visible_text
from web.app import create_app
from web.settings import WebSettings

BIDI = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]  # embeddings, overrides, isolates
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u200f", "\u061c", *BIDI]
BLANK = [" ", "\t", "\n", "\r", "\u3000", "\u00a0", "\u2003", "\u2028", "\u2029", "\u3164", "\u2800"]
EMPTY_MESSAGE = "问题不能为空"


@pytest.mark.parametrize(
    ("typed", "visible"),
    [
        ("灵活就业\x00有补贴吗", "灵活就业有补贴吗"),
        ("\u202e吗贴补有\u202c业就活灵", "吗贴补有业就活灵"),  # a right-to-left override would reverse the display
        ("\u2066创业\u2069贷款\u2067怎么\u2068办\u2069", "创业贷款怎么办"),
        ("\x1b[31m红色\x1b[0m补贴", "[31m红色[0m补贴"),
        ("补\u200b贴\ufeff标\u00ad准", "补贴标准"),
        ("隐藏\U000e0041\U000e0042\U000e0043文字", "隐藏文字"),  # tag characters smuggle invisible ASCII
        ("第一行\n第二行\r\n第三行\u2028第四行", "第一行 第二行  第三行 第四行"),
        ("家庭👨\u200d👩\u200d👧有补贴吗", "家庭👨\u200d👩\u200d👧有补贴吗"),  # ZWJ inside an emoji sequence is kept
        ("补\u200d贴", "补贴"),  # … and removed anywhere else
    ],
)
def test_control_and_format_characters_are_removed(typed: str, visible: str) -> None:
    assert visible_text(typed) == visible
    assert check_question(typed) == visible.strip()


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(st.sampled_from(INVISIBLE + BLANK), min_size=1, max_size=40))
def test_a_question_of_invisible_or_blank_characters_is_empty(question: str) -> None:
    with pytest.raises(InvalidQuestion, match=EMPTY_MESSAGE):
        check_question(question)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=60))
def test_no_control_or_format_character_survives_but_an_emoji_joiner(text: str) -> None:
    out = visible_text(text)
    for i, ch in enumerate(out):
        if unicodedata.category(ch) in ("Cc", "Cf"):
            assert ch == "\u200d" and 0 < i < len(out) - 1, repr(out)


def test_the_python_api_refuses_an_invisible_question(chars_assistant: Assistant) -> None:
    for question in ("", "   ", "\u200b\u200b", "\u3000\ufeff\u202e", "\x00\x00"):
        with pytest.raises(InvalidQuestion, match=EMPTY_MESSAGE):
            chars_assistant.ask(question)
    assert chars_assistant.ask("\u202e灵活就业\x00有补贴吗\u202c").question == "灵活就业有补贴吗"


@pytest.fixture(scope="module")
def client_and_data(
    chars_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Path]]:
    data = tmp_path_factory.mktemp("question-text")
    with TestClient(create_app(chars_assistant, WebSettings(data_dir=data, rate_limit=None))) as c:
        yield c, data


def _error(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 422, resp.text
    body: dict[str, Any] = resp.json()
    return body


@pytest.mark.parametrize(
    "question", ["\u200b", "\u200b\u200c\u200d\ufeff", "\u3000 \t\n", "\u202e\u202c", "\x00", "\u3164"]
)
def test_http_answers_an_invisible_question_like_an_empty_one(
    client_and_data: tuple[TestClient, Path], question: str
) -> None:
    client, _ = client_and_data
    empty = _error(client.post("/api/ask", json={"question": "   "}))
    assert _error(client.post("/api/ask", json={"question": question})) == empty
    assert EMPTY_MESSAGE in empty["message"]


def test_http_stores_and_shows_the_visible_question(client_and_data: tuple[TestClient, Path]) -> None:
    client, data = client_and_data
    typed = "\u202e灵活\x00就业\u2066有\u2069补贴吗\x1b"
    resp = client.post("/api/ask", json={"question": typed})
    assert resp.status_code == 200, resp.text
    assert resp.json()["question"] == "灵活就业有补贴吗"
    with sqlite3.connect(data / "questions.sqlite3") as conn:
        stored = [q for (q,) in conn.execute("SELECT question FROM questions")]
    conn.close()
    assert "灵活就业有补贴吗" in stored
    assert not [q for q in stored if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in q)]
    # Nor in freed pages or the write-ahead log (the bidi controls are multi-byte: no false alarm).
    raw = b"".join(p.read_bytes() for p in data.iterdir() if p.is_file() and p.name.startswith("questions"))
    for ch in ("\u202e", "\u2066", "\u2069"):
        assert ch.encode() not in raw


def test_cli_refuses_an_invisible_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POLICY_ASSISTANT_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("POLICY_ASSISTANT_EMBEDDER", "chars")
    monkeypatch.setenv("POLICY_ASSISTANT_DATA", str(tmp_path / "var"))
    assert main(["ask", "\u200b\u2060\u202e"]) == 2
    err = capsys.readouterr().err
    assert EMPTY_MESSAGE in err and len(err.strip().splitlines()) == 1
