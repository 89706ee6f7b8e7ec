"""`policy-assistant`: the contract on stdout, one readable line on stderr for every error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POLICY_ASSISTANT_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("POLICY_ASSISTANT_EMBEDDER", "chars")
    monkeypatch.setenv("POLICY_ASSISTANT_DATA", str(tmp_path / "var"))
    return tmp_path


def test_build_then_ask_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--quiet"]) == 0
    assert "索引已建立" in capsys.readouterr().out
    assert main(["ask", "--json", "第十四条是什么"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["measures"][0]["id"] == "m14" and d["phone"] == "0532-58659939"


def test_ask_builds_index_on_first_use_and_prints_text(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "城阳哪家火锅好吃"]) == 0
    out = capsys.readouterr().out
    assert "没有找到" in out and "0532-58659939" in out
    assert (env / "index" / "manifest.json").exists()


def test_top_option(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--json", "--top", "1", "区人力资源社会保障局负责哪些"]) == 0
    assert len(json.loads(capsys.readouterr().out)["measures"]) == 1


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["ask", "   "], 2, "问题不能为空"),
        (["ask", "x" * 501], 2, "问题太长"),
        (["ask", "--top", "0", "就业"], 2, "top_k"),
        (["ask", "--embedder", "nope", "就业"], 1, "未知的向量模型"),
        (["ask", "--corpus", "/nonexistent", "就业"], 1, "语料目录不存在"),
    ],
)
def test_errors_are_one_line_without_traceback(env: Path, capsys: pytest.CaptureFixture[str], argv, code, message) -> None:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_ask_is_logged_redacted_with_channel_cli(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.qlog import QuestionLog

    id_number = "11010519491231002X"  # valid GB 11643 checksum
    assert main(["ask", "--json", f"第6条怎么报名，我的身份证{id_number}"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert id_number not in json.dumps(d, ensure_ascii=False) and "[身份证号]" in d["question"]
    with QuestionLog(env / "var") as qlog:
        (entry,) = qlog.recent(5)
    assert entry.channel == "cli" and entry.chunk_ids[0] == "m6" and id_number not in entry.question


def test_unbuildable_index_is_one_line(env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = env / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("POLICY_ASSISTANT_INDEX", str(blocker))
    assert main(["ask", "就业"]) == 1
    err = capsys.readouterr().err
    assert "索引无法重建" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [(["ask"], "缺少参数"), (["ask", "--top", "x", "问题"], "需要整数"), (["ask", "--nope", "问题"], "无法识别的参数")],
)
def test_usage_errors_are_chinese(env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "用法:" in err
    assert "usage:" not in err and "error:" not in err and "required" not in err


def test_first_start_is_one_info_line_without_library_debug_or_bars(env: Path) -> None:
    import subprocess
    import sys

    # A real process with stderr not a terminal, as under a service manager or in a log file.
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ask", "第3条"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("INFO") and "正在建立索引" in lines[0], lines
    assert "policy-assistant build" not in lines[0]  # it is already building: no instruction to do it
    assert "\r" not in out.stderr and "向量化" not in out.stderr  # no progress bar off a terminal
