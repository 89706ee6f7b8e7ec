"""Personal data typed into a question must never survive redaction; policy text must.

The generators below build valid identifiers with their own checksum code (not the module's),
so a bug in the module's validation cannot make the tests agree with it.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from assistant.redact import Redaction, redact, redact_text, sanitize_log

# database=None: do not leave a .hypothesis/ directory in the working tree.
PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
# Fewer examples for properties that recombine what the 300-example tests already cover.
SECONDARY = settings(PROPERTY, max_examples=100)

SENTENCES = [
    "您好，我想咨询一下就业补贴的申请条件",
    "请问灵活就业人员社会保险补贴怎么领取",
    "我是高校毕业生，刚刚办理了失业登记",
    "麻烦帮我查一下创业担保贷款的办理进度",
    "这是我的信息",
    "企业吸纳就业困难人员可以享受哪些政策",
    "谢谢！",
    "",
]
JOINERS = ["", "：", "，", " ", "是", "（", "）", "\n"]

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_check_char(first17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def luhn_check_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(digits: str) -> bool:
    return luhn_check_digit(digits[:-1]) == digits[-1]


def DIGITS(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


def to_fullwidth(s: str) -> str:
    return s.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})


def digits_of(s: str) -> str:
    return re.sub(r"[^0-9Xx]", "", s)


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    region = f"{draw(st.integers(0, 999_999)):06d}"
    birth = draw(st.dates(date(1930, 1, 1), date(2020, 12, 31))).strftime("%Y%m%d")
    sequence = f"{draw(st.integers(0, 999)):03d}"
    first17 = region + birth + sequence
    check = id_check_char(first17)
    if check == "X" and draw(st.booleans()):
        check = "x"
    return first17 + check


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    number = "1" + draw(st.sampled_from("3456789")) + draw(DIGITS(9))
    sep = draw(st.sampled_from(["", " ", "-"]))
    prefix = draw(st.sampled_from(["", "+86 ", "+86-", "+86", "86", "0086 "]))
    return prefix + number[:3] + sep + number[3:7] + sep + number[7:]


@st.composite
def bank_cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(16, 19))
    body = draw(st.sampled_from("123456789")) + draw(DIGITS(length - 2))
    card = body + luhn_check_digit(body)
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(card[i : i + 4] for i in range(0, len(card), 4))


@st.composite
def emails(draw: st.DrawFn) -> str:
    # st.from_regex would be the obvious choice but is several times slower to draw from.
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    local = (
        draw(st.text(alnum, min_size=1, max_size=1))
        + draw(st.text(alnum + "._+-", max_size=15))
        + draw(st.text(alnum, min_size=1, max_size=1))
    )
    label = st.builds(lambda a, b: a + b, st.text(alnum, min_size=1, max_size=1), st.text(alnum + "-", max_size=8))
    labels = [lbl.rstrip("-") for lbl in draw(st.lists(label, min_size=1, max_size=3))]
    tld = draw(st.sampled_from(["com", "cn", "net", "org", "com.cn", "gov.cn", "edu.cn"]))
    return f"{local}@{'.'.join(labels)}.{tld}"


@st.composite
def embedded(draw: st.DrawFn, pii: st.SearchStrategy[str]) -> tuple[str, str]:
    """(sentence containing the value, the value) with Chinese text glued on either side."""
    value = draw(pii)
    before = draw(st.sampled_from(SENTENCES)) + draw(st.sampled_from(JOINERS))
    after = draw(st.sampled_from(JOINERS)) + draw(st.sampled_from(SENTENCES))
    return before + value + after, value


def assert_gone(text: str, value: str, placeholder: str) -> None:
    result = redact(text)
    assert placeholder in result.text
    assert value not in result.text
    # No 11+ digit stretch of the original value may survive, even with separators removed.
    pii_digits = digits_of(value)
    for run in re.findall(r"[0-9]{11,}", digits_of(result.text)):
        assert run not in pii_digits
    # Surrounding sentences contain no digits, so nothing outside the value was eaten either.
    assert result.text.count("[") == 1


@PROPERTY
@given(embedded(valid_ids()))
def test_valid_id_numbers_are_always_replaced(case: tuple[str, str]) -> None:
    text, value = case
    assert_gone(text, value, "[身份证号]")
    assert redact(text).found == ("id_card",)


@SECONDARY
@given(embedded(valid_ids()))
def test_full_width_id_numbers_are_replaced_and_other_text_kept(case: tuple[str, str]) -> None:
    text, value = case
    wide_text, wide_value = to_fullwidth(text), to_fullwidth(value)
    result = redact(wide_text)
    assert result.text == wide_text.replace(wide_value, "[身份证号]")


@PROPERTY
@given(embedded(mobiles()))
def test_mobile_numbers_are_always_replaced(case: tuple[str, str]) -> None:
    text, value = case
    assert_gone(text, value, "[手机号]")
    assert redact(text).found == ("mobile",)


@PROPERTY
@given(embedded(bank_cards()))
def test_luhn_valid_bank_cards_are_always_replaced(case: tuple[str, str]) -> None:
    text, value = case
    result = redact(text)
    # A card number may also happen to be a valid 18-digit ID; either label hides it.
    assert result.found in {("bank_card",), ("id_card",)}
    placeholder = "[银行卡号]" if result.found == ("bank_card",) else "[身份证号]"
    assert_gone(text, value, placeholder)


@PROPERTY
@given(embedded(emails()))
def test_email_addresses_are_always_replaced(case: tuple[str, str]) -> None:
    text, value = case
    result = redact(text)
    assert result.text == text.replace(value, "[邮箱]")
    assert result.found == ("email",)


@SECONDARY
@given(valid_ids(), mobiles(), emails(), st.sampled_from(SENTENCES))
def test_several_kinds_in_one_question_are_all_replaced(id_number: str, mobile: str, email: str, filler: str) -> None:
    text = f"{filler}身份证{id_number}，电话{mobile}，邮箱{email}。"
    result = redact(text)
    assert result.text == f"{filler}身份证[身份证号]，电话[手机号]，邮箱[邮箱]。"
    assert result.found == ("id_card", "mobile", "email")


@PROPERTY
@given(st.text(max_size=200))
def test_redaction_is_idempotent_and_never_crashes(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once


# --- near misses: policy text that looks numeric must come through untouched ---------------


@st.composite
def wrong_checksum_ids(draw: st.DrawFn, province_valid: bool) -> str:
    valid = draw(valid_ids())
    provinces = sorted(PROVINCES) if province_valid else [f"{p:02d}" for p in range(100) if f"{p:02d}" not in PROVINCES]
    valid = draw(st.sampled_from(provinces)) + valid[2:]
    wrong = draw(st.sampled_from([c for c in "0123456789X" if c != id_check_char(valid[:17])]))
    candidate = valid[:-1] + wrong
    # An 18-digit string that fails the ID checksum but passes Luhn is indistinguishable from
    # an 18-digit bank card, and is (deliberately) redacted as one.
    assume(not (candidate.isdigit() and luhn_valid(candidate)))
    return candidate


# GB/T 2260 province-level codes (83: residence permits of Taiwan residents).
PROVINCES = frozenset("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
                      "71 81 82 83".split())  # fmt: skip


@PROPERTY
@given(embedded(wrong_checksum_ids(province_valid=False)))
def test_id_shaped_numbers_with_a_wrong_checksum_and_no_province_are_left_alone(case: tuple[str, str]) -> None:
    text, _ = case
    assert redact(text) == Redaction(text=text, found=())


@SECONDARY
@given(embedded(wrong_checksum_ids(province_valid=True)))
def test_a_mistyped_id_with_a_real_province_and_birth_date_is_still_redacted(case: tuple[str, str]) -> None:
    # Issue 11: a wrong check digit is more likely a typo than a coincidence.
    text, value = case
    assert redact(text) == Redaction(text=text.replace(value, "[身份证号]"), found=("id_card",))


def _not_a_dialled_mobile(number: str) -> bool:
    # 0 + a mobile (013812345678) is a mobile dialled with the trunk prefix, redacted on purpose.
    return not re.fullmatch(r"01[3-9][0-9]{9}", number)


@PROPERTY
@given(embedded(st.integers(0, 10**12 - 1).map(lambda n: f"{n:012d}").filter(_not_a_dialled_mobile)))
def test_twelve_digit_numbers_are_left_alone(case: tuple[str, str]) -> None:
    text, _ = case
    assert redact(text) == Redaction(text=text, found=())


POLICY_TEXT = [
    "申请截止时间为2025年12月31日",
    "市财政安排资金3000万元",
    "咨询电话：0532-58659939",
    "索引号：000014349/2024-00358",
    "青城政办发〔2024〕13号",
    "依据《青城市就业补助资金管理办法》（青城政办发〔2024〕13号）第十二条",
    "补贴标准为每人每月1500元，最长不超过36个月",
    "2024年1月1日至2026年12月31日期间，吸纳登记失业人员3000人",
    "第１２条　补贴３０００元",
]


@pytest.mark.parametrize("text", POLICY_TEXT)
def test_policy_numbers_dates_and_hotlines_are_left_alone(text: str) -> None:
    assert redact(text) == Redaction(text=text, found=())


@SECONDARY
@given(st.sampled_from(POLICY_TEXT), embedded(valid_ids()))
def test_policy_text_next_to_an_id_survives(policy: str, case: tuple[str, str]) -> None:
    text, value = case
    combined = policy + "。" + text
    assert redact_text(combined) == policy + "。" + text.replace(value, "[身份证号]")


# --- examples ------------------------------------------------------------------------------

ID_A = "370202198511150013"  # valid, numeric check digit
ID_X = "11010519491231002X"  # valid, check character X


def test_id_and_mobile_in_one_sentence() -> None:
    result = redact(f"我的身份证号是{ID_A}，手机13812345678，想问社保补贴。")
    assert result.text == "我的身份证号是[身份证号]，手机[手机号]，想问社保补贴。"
    assert result.found == ("id_card", "mobile")


def test_id_followed_directly_by_more_digits_is_still_redacted() -> None:
    assert redact_text(f"证件{ID_A}5678") == "证件[身份证号]5678"


def test_id_followed_directly_by_a_mobile_redacts_both() -> None:
    result = redact(f"{ID_A}13812345678")
    assert result.text == "[身份证号][手机号]"


def test_phone_shaped_digits_inside_an_id_are_not_a_phone() -> None:
    first17 = "913812" + "19900101" + "123"  # characters 2-12 read 13812199001, a mobile shape
    id_number = first17 + id_check_char(first17)
    assert redact(f"身份证{id_number}") == Redaction(text="身份证[身份证号]", found=("id_card",))
    # A 12-digit number that contains a mobile is not a mobile.
    assert redact_text("订单号913812345678") == "订单号913812345678"


@pytest.mark.parametrize("id_number", [ID_X, ID_X.lower()])
def test_check_character_x_in_either_case(id_number: str) -> None:
    assert redact(f"身份证号码{id_number}。") == Redaction(text="身份证号码[身份证号]。", found=("id_card",))


def test_old_fifteen_digit_id() -> None:
    assert redact_text("老身份证370202851115001还能用吗") == "老身份证[身份证号]还能用吗"


def test_fifteen_digit_number_without_a_valid_date_is_left_alone() -> None:
    assert redact_text("编号370202851315001") == "编号370202851315001"


def test_id_with_an_impossible_birth_date_is_left_alone() -> None:
    first17 = "370202" + "19850230" + "001"  # 30 February
    candidate = first17 + id_check_char(first17)
    assert redact_text(candidate) == candidate


def test_id_written_in_groups() -> None:
    assert redact_text("370202 19851115 0013") == "[身份证号]"


@pytest.mark.parametrize(
    "written",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "8613812345678",
        "１３８１２３４５６７８",
        "１３８－１２３４－５６７８",
        "一三八一二三四五六七八",
        "138\n1234\n5678",
    ],
)
def test_mobile_written_in_common_ways(written: str) -> None:
    assert redact(f"联系我{written}谢谢") == Redaction(text="联系我[手机号]谢谢", found=("mobile",))


def test_full_width_punctuation_around_a_number_is_kept() -> None:
    assert redact_text("电话：１３８１２３４５６７８，谢谢！") == "电话：[手机号]，谢谢！"


def test_mailbox_named_after_a_phone_is_one_email() -> None:
    assert redact("邮箱13812345678@163.com") == Redaction(text="邮箱[邮箱]", found=("email",))


def test_bank_card_grouped_in_fours() -> None:
    assert redact_text("编号 6222 0000 0000 0000 000 已开户") == "编号 6222 0000 0000 0000 000 已开户"  # Luhn fails
    assert redact_text("卡号 4111 1111 1111 1111 已开户") == "卡号 [银行卡号] 已开户"


@pytest.mark.parametrize("word", ["卡号", "银行卡", "银行卡号是", "账号：", "帐户 "])
def test_a_long_number_after_a_card_word_is_redacted_whatever_luhn_says(word: str) -> None:
    # Issue 11: 12+ digits announced as an account are one, check digit or not.
    assert redact_text(f"我的{word}6222 0000 0000 0000 000，补贴打到哪") == f"我的{word}[银行卡号]，补贴打到哪"
    assert redact_text(f"{word}622200000000") == f"{word}[银行卡号]"
    assert redact_text(f"{word}62220000000") == f"{word}62220000000"  # 11 digits: not an account number


# --- log sanitising --------------------------------------------------------------------------


def test_sanitized_log_text_cannot_start_a_new_line() -> None:
    forged = "补贴\n2025-01-01 00:00:00 INFO 管理员登录成功\r\n"
    line = sanitize_log(forged)
    assert "\n" not in line and "\r" not in line
    assert line == "补贴\\n2025-01-01 00:00:00 INFO 管理员登录成功\\r\\n"


@SECONDARY
@given(st.text(max_size=100))
def test_sanitized_log_text_has_no_control_or_line_separator_characters(text: str) -> None:
    line = sanitize_log(text)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", line)


def test_sanitized_log_text_is_redacted_and_unambiguous() -> None:
    assert sanitize_log(f"身份证{ID_A}\t手机138\n1234\n5678") == "身份证[身份证号]\\t手机[手机号]"
    # A user typing a literal backslash-n must not look like an escaped newline.
    assert sanitize_log("a\\nb") == "a\\\\nb"
    assert sanitize_log("\x1b[31m红色\u202e") == "\\x1b[31m红色\\u202e"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我叫王建国，住在城阳区正阳路123号5栋2单元301室", "我叫[姓名]，住在城阳区[地址]"),
        ("住在河套街道西后楼村8号", "住在河套街道[地址]"),
        ("阳光小区3号楼2单元502", "阳光小区[地址]"),
        ("崇阳大道12号", "[地址]"),
        ("本人张三，想问补贴", "本人[姓名]，想问补贴"),
        ("我是退役军人，我是大学生，我是残疾人，我是高校毕业生", "我是退役军人，我是大学生，我是残疾人，我是高校毕业生"),
        ("青城政办发〔2024〕13号第三条", "青城政办发〔2024〕13号第三条"),
        ("我是农村户口，农村劳动力有补贴吗", "我是农村户口，农村劳动力有补贴吗"),
    ],
)
def test_addresses_and_self_introduced_names(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("手机①③⑧①②③④⑤⑥⑦⑧", "手机[手机号]"),  # circled digits are digits
        ("电话⑴⑶⑻⑴⑵⑶⑷⑸⑹⑺⑻", "电话[手机号]"),  # and so are parenthesised ones
        ("身份证号码后四位是002X,前面是11010519491231", "身份证号码后四位是002X,前面是[身份证号]"),
        ("QQ 987654321", "QQ [QQ/微信号]"),
        ("加我qq:987654321谢谢", "加我qq:[QQ/微信号]谢谢"),
        ("微信号:Zhang-Wei_1990", "微信号:[QQ/微信号]"),
        ("我的微信wxid_abc123", "我的微信[QQ/微信号]"),
        ("联系人:李娜", "联系人:[姓名]"),
    ],
)
def test_other_dress_for_digits_cut_ids_and_chat_accounts(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "微信上能办吗",  # the service, not an account
        "QQ群12345里说的",  # a group number is not a person's
        "token=Wx_9aZk3mPq",  # letters glued to a longer token
        "公益性岗位1500个,房源4000间",
        "订单号11010519491231",  # announced as an order number
    ],
)
def test_chat_words_and_counts_without_an_account_are_kept(text: str) -> None:
    assert redact_text(text) == text


# --- issue 22 (1): every attack string, and the policy numbers that must survive -------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A mobile split by any punctuation, symbol or space, ASCII or not.
        ("电话1391234；5702", "电话[手机号]"),
        ("139~1234~5704", "[手机号]"),
        ("/nope/1391234;5681", "/nope/[手机号]"),
        ("手机1391234：5702", "手机[手机号]"),
        ("手机139|1234|5702", "手机[手机号]"),
        ("手机139·1234·5702", "手机[手机号]"),
        ("手机139—1234—5702", "手机[手机号]"),
        ("手机139★1234☆5702", "手机[手机号]"),
        ("手机139😀1234😀5702", "手机[手机号]"),
        ("手机139\u30001234\u20035702", "手机[手机号]"),
        ("手机1\u03013\u03019 1234 5702", "手机[手机号]"),  # combining marks are invisible
        ("手机一三九 幺二三四 五七〇两", "手机[手机号]"),  # 幺 and 两 are spoken digits
        ("手机١٣٩١٢٣٤٥٧٠٢", "手机[手机号]"),  # Arabic-Indic digits
        ("手机¹³⁹₁₂₃₄⑤⑦⓪❷", "手机[手机号]"),  # super/subscript, circled, negative circled
        ("身份证110105；19491231；002X", "身份证[身份证号]"),
        ("卡号6222~0212~3456~7890~128", "卡号[银行卡号]"),
        # QQ numbers in any numerals after 扣扣/QQ.
        ("扣扣：七三四八二九一五七", "扣扣：[QQ/微信号]"),
        ("QQ号 柒叁肆捌贰玖壹伍柒", "QQ号 [QQ/微信号]"),
        ("qq:734-829-157，手机13912345678", "qq:[QQ/微信号]，手机[手机号]"),
        # E-mails with spaces around @ and dots, and local parts in any script.
        ("邮箱zhangsan @ qq.com", "邮箱[邮箱]"),
        ("邮箱 zhangsan@ qq . com 谢谢", "邮箱 [邮箱] 谢谢"),
        ("张伟测试@example.cn", "[邮箱]"),
        ("我的邮箱是张伟测试@example.cn，谢谢", "我的邮箱是[邮箱]，谢谢"),
        ("邮件 иван@mail.ru", "邮件 [邮箱]"),
        # Names after 叫我, rooms after a unit.
        ("叫我王建国就行", "叫我[姓名]就行"),
        ("您叫我欧阳娜娜吧", "您叫我[姓名]吧"),
        ("城阳区正阳路123号2单元301", "城阳区[地址]"),
        ("阳光小区3号楼2单元301，想问补贴", "阳光小区[地址]，想问补贴"),
        ("住在幸福小区5-2-301", "住在幸福小区[地址]"),
        ("正阳路十二号三单元三〇一", "[地址]"),
        # Identity documents other than the resident ID: after their word, and in their shapes.
        ("护照号E12345678", "护照号[证件号]"),
        ("护照号码：EA1234567，去过香港", "护照号码：[证件号]，去过香港"),
        ("我的护照是G12345678", "我的护照是[证件号]"),
        ("港澳通行证C12345678", "港澳通行证[证件号]"),
        ("往来港澳通行证号码 C 1234 5678", "往来港澳通行证号码 [证件号]"),
        ("回乡证H12345678", "回乡证[证件号]"),
        ("台湾通行证L12345678", "台湾通行证[证件号]"),
        ("台胞证号码12345678", "台胞证号码[证件号]"),
        ("台胞证1234567890(B)", "台胞证[证件号]"),
        ("军官证号码：南字第1234567号，转业了", "军官证号码：[证件号]，转业了"),
        ("士兵证 2019123456", "士兵证 [证件号]"),
        ("退役军人优待证号：370200123456", "退役军人优待证号：[证件号]"),
        ("证件号：一二三四五六七八", "证件号：[证件号]"),
        ("我的是E12345678", "我的是[证件号]"),
        ("刚办的P1234567过期了吗", "刚办的[证件号]过期了吗"),
    ],
)
def test_issue_22_attack_strings_leave_no_raw_digits(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "100元",
        "2024年",
        "第14条",
        "3万元",
        "0532-58659939",
        "创业担保贷款最高15万元",
        "个人创业担保贷款15万元，小微企业300万元",
        "补贴100元；200元；300元",
        "2024年1月~2024年12月",
        "第14条|第15条",
        "咨询电话：0532-58659939；0532-58659939",
        "2024.1.1—2026.12.31",
        "工作时间9:00—17:00",
        "3~5万元",
        "每人每月1500元/月，最长36个月",
        "护照办理需要多久",
        "我是退役军人，军官证丢了还能享受政策吗",
        "港澳通行证可以作为证件吗",
        "G20峰会、5G、COVID-19、iPhone15",
        "得分0.8312345678901234",
        "叫我怎么办",
        "叫我去哪里办",
        "邮箱@的格式是什么",
    ],
)
def test_issue_22_policy_numbers_survive(text: str) -> None:
    assert redact(text) == Redaction(text=text, found=())


@pytest.mark.parametrize("text", ["1" * 50_000, "1;" * 25_000, "１" * 50_000, "1号楼" * 15_000, "a" * 50_000 + "@qq.com"])
def test_long_runs_are_redacted_in_linear_time(text: str) -> None:
    # A 404 path or an exception message can be this long; a pattern retried from every digit of
    # a 50,000-digit run took minutes (quadratic) and held the logging thread.
    import time

    started = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - started < 15
