"""scripts/scan_pii.py finds raw personal data where it should, and nothing where there is none."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import ModuleType

import pytest

from assistant.qlog import LogEntry, QuestionLog

ID_NUMBER = "11010519491231002X"
MOBILE = "13912345678"
CARD = "6222021234567890128"  # Luhn-valid, 19 digits


def kinds(scan_pii: ModuleType, text: str) -> list[str]:
    return [kind for kind, _ in scan_pii.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"身份证{ID_NUMBER}", ["id_card"]),
        ("身份证 110105 19491231 002X", ["id_card"]),
        ("身份证１１０１０５１９４９１２３１００２Ｘ", ["id_card"]),  # full-width
        (f"手机{MOBILE}", ["mobile"]),
        ("电话 139-1234-5678 或 +86 139 1234 5678", ["mobile", "mobile"]),
        (f"卡号{CARD}", ["bank_card"]),
        ("卡号 6222 0212 3456 7890 128", ["bank_card"]),
        (f"{ID_NUMBER}{MOBILE}", ["id_card", "mobile"]),  # glued together
        ("370202198511150013" + MOBILE, ["id_card", "mobile"]),
        ("12345" + "370202198511150013", ["id_card"]),
        (f"{ID_NUMBER} {MOBILE} {CARD}", ["id_card", "bank_card", "mobile"]),
        ("110105194912310021", ["id_card"]),  # mistyped check digit, real province and birth date
        ("身份证110105.19491231.002X", ["id_card"]),
        ("身份证110105 - 19491231 - 002X", ["id_card"]),
        ("身份证1101\u200b0519491231002X", ["id_card"]),
        ("138.1234.5678", ["mobile"]),
        ("(138)1234-5678", ["mobile"]),
        ("138/1234/5678 138_1234_5678 138,1234,5678", ["mobile"] * 3),
        ("1 3 8 1 2 3 4 5 6 7 8", ["mobile"]),
        ("1381 2345 678", ["mobile"]),
        ("电话013812345678,或1795113812345678", ["mobile", "mobile"]),
        ("138一二三四五六七八 壹叁捌壹贰叁肆伍陆柒捌", ["mobile", "mobile"]),
        ("卡号6222.0212.3456.7890.128", ["bank_card"]),
        ("622202 1234567890128 abc6222021234567890128def", ["bank_card", "bank_card"]),
        ("账号 6222 0000 0000 0000 000", ["bank_card"]),  # Luhn fails, but it was announced as one
        ("邮箱zhangsan@qq。com,张伟@hotmail.com", ["email", "email"]),
        ("我叫王建国,住在城阳区正阳路123号5栋2单元301室", ["name", "address", "address"]),
        ("本人张三,想问", ["name"]),
        ("手机①③⑧①②③④⑤⑥⑦⑧", ["mobile"]),  # circled digits
        ("身份证前面是11010519491231,后面忘了", ["id_card"]),  # region + birth date, tail cut off
        ("QQ 987654321,微信号 Zhang-Wei_1990,wxid_abc123", ["im_account"] * 3),
        ("联系人:李娜", ["name"]),
    ],
)
def test_finds_raw_personal_data(scan_pii: ModuleType, text: str, expected: list[str]) -> None:
    assert sorted(kinds(scan_pii, text)) == sorted(expected)


@pytest.mark.parametrize(
    "text",
    [
        "990105194912310021",  # wrong check digit and no such province
        "订单号202511271234567890",  # order number: starts with no province code
        "我是退役军人,我是大学生,我是残疾人,我是高校毕业生",  # groups, not names
        "青城政办发〔2024〕13号,市财政安排3000万元,新增1500个岗位,16家企业",
        "[0.8312345678901234, 0.4123456789012345]",  # scores in the question log
        "2025年12月31日前申请,补贴3000万元",
        "编号 123456789012",  # 12 digits
        "[0.8312345678901234, 0.41]",  # scores: decimals are not cards
        "2025-11-27T08:21:00.123456+00:00",
        '127.0.0.1:54321 - "POST /api/ask HTTP/1.1" 200',
        "0532-58659939",  # the published hotline
        "我的身份证[身份证号],手机[手机号],卡号[银行卡号]",
        "0000000000000000",
    ],
)
def test_leaves_other_numbers_alone(scan_pii: ModuleType, text: str) -> None:
    assert kinds(scan_pii, text) == []


def test_findings_are_masked(scan_pii: ModuleType) -> None:
    ((_, masked),) = list(scan_pii.find(f"卡号{CARD}"))
    assert CARD not in masked and masked.endswith(CARD[-4:])


def test_scan_of_a_redacted_question_log_is_clean_and_of_a_leaky_one_is_not(
    scan_pii: ModuleType, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with QuestionLog(data) as qlog:
        for i in range(20):
            qlog.record(
                LogEntry(f"我身份证{ID_NUMBER},手机{MOBILE},卡{CARD}?{i}", ("m3",), (0.8312345678901234,), True,
                         "answer", 12.345678901234567, "web", "s1")
            )  # fmt: skip
    report = scan_pii.scan([data])
    assert report.files >= 1 and report.total == 0

    # A database written without redaction, and a log line with a raw number, are caught.
    with sqlite3.connect(data / "leaky.sqlite3") as conn:
        conn.execute("CREATE TABLE t (q TEXT)")
        conn.execute("INSERT INTO t VALUES (?)", (f"手机{MOBILE}",))
    conn.close()
    (data / "server.log").write_text(f"INFO something {ID_NUMBER}\n", encoding="utf-8")
    report = scan_pii.scan([data])
    assert report.counts["id_card"] == 1
    assert report.counts["mobile"] == 2  # in the table and in the file's raw bytes
    assert scan_pii.main([str(data)]) == 1


@pytest.mark.parametrize("text", ["1" * 50_000, "1;" * 25_000, "a" * 50_000 + "@qq.com", "1单元" * 15_000])
def test_long_runs_are_scanned_in_linear_time(scan_pii: ModuleType, text: str) -> None:
    import time

    started = time.perf_counter()
    list(scan_pii.find(text))
    assert time.perf_counter() - started < 15


def test_bytes_of_a_binary_file_are_not_read_as_a_writers_spacing(scan_pii: ModuleType, tmp_path: Path) -> None:
    # A stored latency of 2-4 ms is a REAL whose big-endian bytes begin 0x40 ("@"), then often a tab or a line
    # feed: right after the kind "answer" that read as the email 「answer@\t…8.Cg」 (one whole-suite run in eleven).
    page = b"SQLite format 3\x00" + b"\x00\x07answer" + b"\x40\x0b\x1eQx8.Cg" + b"\x00" * 20
    (tmp_path / "questions.sqlite3-wal").write_bytes(page)
    assert scan_pii.scan([tmp_path]).total == 0
    # A real address written in a question stored in the same kind of file is still found.
    leaky = page + "我的邮箱 zhangsan @ qq.com".encode() + b"\x00\x00"
    (tmp_path / "questions.sqlite3-wal").write_bytes(leaky)
    assert scan_pii.scan([tmp_path]).counts["email"] == 1
