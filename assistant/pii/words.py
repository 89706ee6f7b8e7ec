"""Personal data written in words and symbols: e-mail addresses, QQ/WeChat accounts, street
addresses and self-introduced names.

The words that tell a name from a self-description ("我是王建国" vs "我是退役军人") are data:
family names in corpus/lexicon/surnames.txt, and every word of the lexicon (groups, glossary,
userdict, stopwords, self_descriptions.txt) is "not a name".
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .digits import Span, fold_digits, run_at

# E-mail by the shape of its domain: labels of letters, digits and "-" joined by dots, ending in a
# 2+ letter top-level domain; spaces may surround the "@" and the dots ("zhangsan @ qq . com").
_EMAIL_DOMAIN_RE = re.compile(
    r"[ ]{0,2}@[ ]{0,2}[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:[ ]{0,2}\.[ ]{0,2}[A-Za-z0-9-]+)*[ ]{0,2}\.[ ]{0,2}[A-Za-z]{2,}"
)
# The local part is read backwards from the "@": the characters mailbox providers hand out, or else
# letters of any other script (张伟测试@example.cn, иван@mail.ru).
_ASCII_LOCAL_RE = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}[ ]{0,2}$")
_LOCAL_CHARS_RE = re.compile(r"[^\W\d_]{1,64}[ ]{0,2}$")
# Words that announce the mailbox ("邮箱是张伟测试@…"): the local part starts after the last of them.
_MAIL_WORD_RE = re.compile(r"(?i)(?:邮箱地址|邮箱号|邮箱|电子邮件|邮件|e-?mail|mail|地址|账号|是|为|叫)")
# A local part in a script without spaces between words: at most this many characters (a name and
# a word or two: 张伟测试); more than that is the sentence in front of it, not the mailbox.
_MAX_LOCAL_NON_ASCII = 8

# QQ and WeChat accounts, after the word that names them: a QQ number (5–12 digits, written any
# way the digit reader reads) or a WeChat id (6–20 letters, digits, _ or -, starting with a
# letter), and WeChat's internal wxid_… anywhere. Without the word, 5–12 digits are a count or an
# amount far more often than an account.
_WXID_RE = re.compile(r"(?i)(?<![A-Za-z0-9_-])wxid_[A-Za-z0-9_-]{4,30}(?![A-Za-z0-9_-])")
_IM_WORD_RE = re.compile(
    # The Latin words must stand apart from the account ("QQ 12345", "qq:12345", "vx号 …", "QQ七三四…"):
    # glued to letters and digits they are just part of some token (a hash, a base64 id).
    r"(?i)(?:扣扣|企鹅号|微信|(?<![A-Za-z0-9_-])(?:qq|vx|wx|weixin|wechat)(?=[\s:：号是为〇零一幺壹二两贰三叁四肆五伍六陆七柒八捌九玖]))"
    r"(?:号码|号|账号|帐号|id)?\s*(?:是|为)?\s*[:：]?\s*"
)
_WECHAT_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{5,19}(?![A-Za-z0-9_-])")

# Street addresses: a road, street or lane with a house number, and the building/unit/room tail
# that follows it (a bare room number after 单元 too: 2单元301); a building-unit-room tail on its own
# (at least two of its parts); or a compound's 5-2-301 shorthand. Matched on a copy with every
# numeral as an ASCII digit, so 三〇一 is a room number like 301.
_NUM = "[0-9十百]+"
_ROAD = r"[^\W\d_在住是于到的了区市县镇乡村省街道，。、：:\x00]{1,6}?(?:路|街|大道|大街|巷|弄|胡同|村|庄|屯)"
_PART = rf"\s*[-－]?\s*{_NUM}\s*(?:号楼|栋|幢|座|单元|楼|层|室|户|号)"
# A number is matched from its first digit only (the lookbehind), so a long run of digits costs
# linear time, not a retry from every position.
_ADDRESS_RE = re.compile(
    rf"{_ROAD}\s*{_NUM}\s*号(?:院)?(?:{_PART})*"
    rf"|(?<![0-9十百]){_NUM}\s*(?:号楼|栋|幢|座|单元)(?:{_PART})+"
    r"|(?:(?<=小区)|(?<=花园)|(?<=公寓)|(?<=家园)|(?<=社区)|(?<=宿舍)|(?<=新村)|(?<=苑))"
    r"\s*[0-9]{1,3}\s*-\s*[0-9]{1,2}\s*-\s*[0-9]{3,4}(?![0-9])"
)
# After a building or unit, a bare number is the room (2单元301, 3号楼-1502).
_ROOM_RE = re.compile(r"\s*[-－]?\s*[0-9]{1,5}(?![0-9])")
_ROOM_AFTER = ("单元", "号楼", "栋", "幢", "座", "楼", "层")

# Self-introductions: strong triggers are followed by a name; after weak ones (我是, 本人, 叫我)
# the next word must start with a family name (data) to count as one ("叫我去办" is not a name).
_STRONG_NAME_TRIGGER = r"我叫|我名叫|名叫|我的名字(?:是|叫)|名字(?:是|叫)|(?:姓名|联系人)(?:是|为)?\s*[:：]?"
_NAME_TRIGGER_RE = re.compile(rf"(?:(?P<strong>{_STRONG_NAME_TRIGGER})|(?P<weak>本人(?:是|叫)?|我是|叫我|喊我|称呼我))\s*")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
# What may follow a complete name in a self-introduction: the end of a clause.
_CLAUSE_END = frozenset("，,。.！!？?、;；:： ")


def email_spans(det: str) -> list[Span]:
    if "@" not in det:
        return []
    dotted = det.replace("。", ".")  # a Chinese IME types the dot of "qq.com" as 。
    stop = _name_data(_lexicon_dir()).stop_chars
    spans: list[Span] = []
    floor = 0  # the end of the previous mailbox: a local part never reaches back into it
    for m in _EMAIL_DOMAIN_RE.finditer(dotted):
        floor = max(floor, m.start() - 80)  # a local part is at most 64 characters: look no further
        before = dotted[floor : m.start()]
        ascii_local = _ASCII_LOCAL_RE.search(before)
        if ascii_local is not None:
            # Chinese text runs straight into an ASCII mailbox far more often than a mailbox mixes
            # scripts: "申请条件zhangsan@qq.com" is the mailbox zhangsan.
            start = floor + ascii_local.start()
        else:
            local = _LOCAL_CHARS_RE.search(before)
            if local is None:
                continue
            start = floor + local.start()
            words = list(_MAIL_WORD_RE.finditer(dotted, start, m.start()))
            if words:
                start = words[-1].end()  # "邮箱是张伟测试@…": the mailbox starts after what announces it
            while start < m.start() and dotted[start] in stop:  # "我的张伟@…": 我, 的 are not part of it
                start += 1
            start = max(start, m.start() - _MAX_LOCAL_NON_ASCII)
        if start >= m.start():
            continue
        spans.append((start, m.end(), "email"))
        floor = m.end()
    return spans


def im_spans(det: str) -> list[Span]:
    spans: list[Span] = [(m.start(), m.end(), "im_account") for m in _WXID_RE.finditer(det)]
    for m in _IM_WORD_RE.finditer(det):
        wechat = _WECHAT_ID_RE.match(det, m.end())
        if wechat and not wechat.group().lower().startswith("wxid_"):
            spans.append((wechat.start(), wechat.end(), "im_account"))
            continue
        run = run_at(det, m.end())
        if run is None or run.digits[0] in "0X":
            continue
        # The account is the longest run of whole written groups that fits in 12 digits: "QQ 734 829
        # 157, 13912345678" is an account and then a mobile (left to the number pass).
        count = 0
        for i in range(1, len(run.digits) + 1):
            if i == len(run.digits) or run.groups[i] != run.groups[i - 1]:
                if i > 12 or "X" in run.digits[:i]:
                    break
                count = i
        if count >= 5:
            spans.append((run.where[0], run.where[count - 1] + 1, "im_account"))
    return sorted(spans)


def address_spans(det: str) -> list[Span]:
    folded = fold_digits(det)
    spans: list[Span] = []
    for m in _ADDRESS_RE.finditer(folded):
        end = m.end()
        if m.group().endswith(_ROOM_AFTER):
            room = _ROOM_RE.match(folded, end)
            if room:
                end = room.end()
        spans.append((m.start(), end, "address"))
    return spans


def _lexicon_dir() -> Path:
    # The same corpus the service answers from (POLICY_ASSISTANT_CORPUS), else the repo's.
    configured = os.environ.get("POLICY_ASSISTANT_CORPUS", "").strip()
    root = Path(configured) if configured else Path(__file__).resolve().parents[2] / "corpus"
    return root / "lexicon"


def _words(path: Path, columns: Callable[[list[str]], Iterable[str]]) -> Iterator[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:  # a corpus without this file: fewer exclusions, never a crash
        return
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        for cell in columns(line.split("\t")):
            yield from (w for w in re.split(r"[|\s]+", cell) if w)


@dataclass(frozen=True)
class _NameData:
    surnames: frozenset[str]  # single-character and compound family names
    not_names: frozenset[str]  # words of the lexicon: what follows 我是 when it is not a name
    stop_chars: frozenset[str]  # single-character function words: a name ends before them


@cache
def _name_data(lexicon: Path) -> _NameData:
    surnames = frozenset(_words(lexicon / "surnames.txt", lambda cols: cols))
    words: set[str] = set(_words(lexicon / "self_descriptions.txt", lambda cols: cols))
    words.update(_words(lexicon / "groups.tsv", lambda cols: cols))
    words.update(_words(lexicon / "glossary.tsv", lambda cols: cols))
    words.update(_words(lexicon / "userdict.txt", lambda cols: cols[:1] and cols[0].split()[:1]))
    stop = set(_words(lexicon / "stopwords.txt", lambda cols: cols))
    words.update(w for w in stop if len(w) > 1)
    return _NameData(
        surnames=surnames,
        not_names=frozenset(w for w in words if len(w) > 1),
        stop_chars=frozenset(w for w in stop if len(w) == 1),
    )


def _starts_with_word(text: str, words: frozenset[str]) -> bool:
    return any(text[:k] in words for k in range(2, min(len(text), 8) + 1))


def name_spans(det: str) -> list[Span]:
    if "我" not in det and "本人" not in det and "名" not in det and "联系人" not in det:
        return []
    data = _name_data(_lexicon_dir())
    spans: list[Span] = []
    for m in _NAME_TRIGGER_RE.finditer(det):
        start = m.end()
        tail = det[start : start + 8]
        if _starts_with_word(tail, data.not_names):
            continue
        if tail[:2] in data.surnames:
            family = 2
        elif tail[:1] in data.surnames:
            family = 1
        elif m.group("strong"):
            family = 1  # after 我叫 any name counts, family name known or not
        else:
            continue
        longest = 0
        for ch in tail[family : family + 2]:
            if not _HAN_RE.fullmatch(ch) or ch in data.stop_chars:
                break
            longest += 1
        after = tail[family + longest : family + longest + 1]
        # After 我叫/名字是 the next characters ARE a name, even when they spell an ordinary word
        # (王刚刚); so are a family name and given name that end the clause (「本人王刚刚，…」).
        # Otherwise, after the weak 我是/本人, the given name must not read as a word (我是李想家的).
        if m.group("strong") or (longest and (not after or after in _CLAUSE_END)):
            given = longest
        else:
            given = 0
            for ch in tail[family : family + longest]:
                if given and _starts_with_word(tail[family + given :], data.not_names):
                    break
                given += 1
            if given == 0 or _starts_with_word(tail[family:], data.not_names):
                continue
        if given == 0:
            continue
        if not all(_HAN_RE.fullmatch(c) for c in tail[:family]):
            continue
        spans.append((start, start + family + given, "name"))
    return spans


__all__ = ["address_spans", "email_spans", "im_spans", "name_spans"]
