"""A document's metadata read from its own text, when it has no metadata table — and from an optional sidecar.

From the text: title (first heading line), 文号 (机关代字〔年份〕序号号, also with [] or 【】), issuer and date from the
落款 (closing lines) or a 发布时间 line, 施行 date (「自…起施行」), end of validity (「有效期至…」, 「有效期X年」, an
activity period 「…至…」), consultation phone and unit. The sidecar `<file>.meta.toml` a staff member writes overrides
or adds any of these and declares what the text cannot say (`implements`, `superseded_by`, `status = "废止"`).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import CorpusError
from .numerals import cn_to_int
from .structures.common import Line

_CN_DIGIT = "〇零一二三四五六七八九十"
_DATE_RES = (
    re.compile(r"(\d{4})\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})\s*日?"),
    re.compile(rf"([{_CN_DIGIT}]{{4}})年([{_CN_DIGIT}]{{1,3}})月([{_CN_DIGIT}]{{1,3}})日"),
)
_DATE_ONLY_RE = re.compile(rf"^[\d{_CN_DIGIT}]{{4}}\s*[-年/.]\s*[\d{_CN_DIGIT}]{{1,3}}\s*[-月/.]\s*[\d{_CN_DIGIT}]{{1,3}}\s*日?$")
NUMBER_RE = re.compile(r"([\u4e00-\u9fa5]{2,14})[〔\[【(（［](\d{4})[〕\]】)）］]\s*(\d{1,4})\s*号")
_EFFECTIVE_RE = re.compile(r"自(?P<d>.{6,16}?)起(?:施行|实施|执行)")
_EXPIRES_RE = re.compile(r"有效期(?:至|到|截至)(?P<d>.{6,16}?日)")
_YEARS_RE = re.compile(r"有效期(?:为)?(?P<n>[\d一二两三四五六七八九十]+)年")
_UNTIL_RE = re.compile(r"(?:截止到|截止至|截至|截止|结束于)(?P<d>\d{4}年\d{1,2}月\d{1,2}日)")
_PERIOD_RE = re.compile(r"(?P<a>\d{4}年\d{1,2}月\d{1,2}日)\s*(?:至|—|－|-|~|～|到)\s*(?P<b>(?:\d{4}年)?\d{1,2}月\d{1,2}日)")
_PERIOD_WORDS = ("活动时间", "活动期间", "实施期限", "执行期限", "申报时间", "受理时间", "时间安排", "有效期")
PHONE_RE = re.compile(r"(?<!\d)(0\d{2,3}[-－—\s]?\d{7,8}|1[3-9]\d{9}|12333)(?!\d)")
_PHONE_LINE_RE = re.compile(r"(咨询|联系|服务|监督|热线)?电话")
_UNIT_RE = re.compile(r"(?:咨询|联系|受理)(?:单位|部门)\s*[:：]\s*(?P<u>[^\s,，;；。]+)")
_UNIT_BEFORE_PHONE_RE = re.compile(r"(?:^|[:：])\s*(?P<u>[\u4e00-\u9fa5]{3,30}?(?:局|中心|办公室|办事处|委员会|站|所|科|处))[\s,，]*(?:电话[:：]?)?\s*$")
_ISSUER_RE = re.compile(r"^[\u4e00-\u9fa5()（）]{4,40}(?:局|政府|办公室|办公厅|委员会|中心|办事处|院|部|厅|会)(?:[(（][\u4e00-\u9fa5]{1,6}[)）])?$")
_PUBLISHED_RE = re.compile(r"^(?:发布时间|发布日期|发文日期|印发日期)\s*[:：]\s*(?P<d>.+)$")
# Sidecar keys (English, for staff editing TOML) → the field names documents use.
SIDECAR_FIELDS = {
    "title": "标题",
    "number": "发文字号",
    "issuer": "发文机关",
    "written": "成文日期",
    "published": "发布日期",
    "effective": "施行日期",
    "expires": "有效期至",
    "phone": "政策咨询电话",
    "dept": "政策咨询部门",
    "repealed_on": "废止日期",
}
SIDECAR_KEYS = (*SIDECAR_FIELDS, "implements", "superseded_by", "status", "structure")


def parse_date(text: str) -> dt.date | None:
    """「2025年3月1日」, 「2025-03-01」, 「二〇二五年三月一日」 → a date; None when the text holds no valid one."""
    for rx in _DATE_RES:
        m = rx.search(text)
        if not m:
            continue
        parts = [int(p) if p.isdigit() else _cn_year(p) if len(p) == 4 else cn_to_int(p) for p in m.groups()]
        if None in parts:
            continue
        try:
            return dt.date(*parts)  # type: ignore[arg-type]
        except ValueError:
            continue
    return None


def _cn_year(text: str) -> int | None:
    digits = ["〇一二三四五六七八九".index("〇" if c == "零" else c) for c in text if c in "〇零一二三四五六七八九"]
    return int("".join(map(str, digits))) if len(digits) == 4 else None


def split_closing(lines: list[Line]) -> tuple[list[Line], list[Line]]:
    """The 落款 at the end — issuer line(s) and a date alone on its line — apart from the body, so that no chunk
    quotes it and the metadata reads issuer and date from it."""
    end = len(lines)
    while end > 0 and _DATE_ONLY_RE.match(lines[end - 1][1].replace(" ", "")):
        end -= 1
        start = end
        while start > 0 and end - start < 2 and _ISSUER_RE.match(lines[start - 1][1].replace(" ", "")):
            start -= 1
        return lines[:start], lines[start:]
    return lines, []


def _norm_number(m: re.Match[str]) -> str:
    return f"{m[1]}〔{m[2]}〕{m[3]}号"


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years) - dt.timedelta(days=1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def from_text(lines: list[Line], closing: list[Line], stated: Mapping[str, str]) -> dict[str, str]:
    """Fields the text states, keyed like a metadata table (发文字号, 发文机关, 成文日期 …); `stated` (a table or the
    reader's fields) wins over what is read from sentences."""
    out: dict[str, str] = {}
    texts = [t for _, t in lines]
    head = texts[:8]
    if m := next((NUMBER_RE.search(t) for t in head if NUMBER_RE.search(t)), None):
        out["发文字号"] = _norm_number(m)
    if closing:
        issuers = [t for _, t in closing if not _DATE_ONLY_RE.match(t.replace(" ", ""))]
        if issuers:
            out["发文机关"] = issuers[0]
        if (d := parse_date(closing[-1][1].replace(" ", ""))) is not None:
            out["成文日期"] = d.isoformat()
    for k, t in enumerate(texts):
        prev = texts[k - 1] if k else ""
        if (m := _PUBLISHED_RE.match(t)) and (d := parse_date(m["d"])):
            out.setdefault("发布日期", d.isoformat())
        if (m := _EFFECTIVE_RE.search(t)) and (d := parse_date(m["d"])):
            out.setdefault("施行日期", d.isoformat())
        if (m := _EXPIRES_RE.search(t)) and (d := parse_date(m["d"])):
            out.setdefault("有效期至", d.isoformat())
        if m := _YEARS_RE.search(t):
            out.setdefault("有效期年数", str(cn_to_int(m["n"]) or ""))
        # 「活动时间：…至…」, or the period on the line under a 「一、活动时间」 heading
        if any(w in t or w in prev and len(prev) < 16 for w in _PERIOD_WORDS) and (m := _PERIOD_RE.search(t)):
            start = parse_date(m["a"])
            end = parse_date(m["b"] if "年" in m["b"] else f"{start.year if start else ''}年{m['b']}")
            if end is not None:
                out.setdefault("有效期至", end.isoformat())
        if any(w in t or w in prev and len(prev) < 16 for w in _PERIOD_WORDS) and (m := _UNTIL_RE.search(t)):
            if (d := parse_date(m["d"])) is not None:
                out.setdefault("有效期至", d.isoformat())
        # 「咨询电话：0532-…」 on one line, or a 「咨询电话」 heading with the number on the line under it
        on_line = _PHONE_LINE_RE.search(t)
        under = not on_line and _PHONE_LINE_RE.search(prev) and len(prev) < 16
        if (on_line or under) and not any(w in (t if on_line else prev) for w in ("监督", "投诉")) and (m := PHONE_RE.search(t)):
            out.setdefault("政策咨询电话", re.sub(r"[－—\s]", "-", m[1]))
            if u := _UNIT_BEFORE_PHONE_RE.search(t[: m.start()]):
                out.setdefault("政策咨询部门", u["u"])
        if m := _UNIT_RE.search(t):
            out.setdefault("政策咨询部门", m["u"])
    if "有效期至" not in out and out.get("有效期年数"):
        base = parse_date(out.get("施行日期", "")) or parse_date(out.get("成文日期", ""))
        if base is not None:
            out["有效期至"] = _add_years(base, int(out["有效期年数"])).isoformat()
    stated = dict(stated)
    # A web page's own fields (readers/html.py): 发布时间 is the publication date, 来源 the publishing department.
    if (d := parse_date(stated.pop("发布时间", ""))) is not None:
        stated.setdefault("发布日期", d.isoformat())
    if source := stated.pop("来源", ""):
        out.setdefault("发文机关", source)
    return {**out, **{k: v for k, v in stated.items() if v}}


def guess_title(lines: list[Line]) -> str:
    """The first line that reads like a title: not a 文号, date, salutation or 发布时间 line, no sentence mark."""
    for _, t in lines[:6]:
        if NUMBER_RE.fullmatch(t.strip("()（） ")) or parse_date(t) and len(t) < 24 or t.endswith(("：", ":")):
            continue
        if _PUBLISHED_RE.match(t) or "。" in t or len(t) > 60:
            continue
        return t.strip("# ").strip()
    return ""


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.toml")


def read_sidecar(path: Path) -> dict[str, Any]:
    """The sidecar's table, checked: unknown keys and wrong types are errors naming the sidecar."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(str(path), None, f"元数据文件无法读取({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(str(path), getattr(exc, "lineno", None), f"元数据文件不是有效的 TOML({exc})") from None
    unknown = [k for k in data if k not in SIDECAR_KEYS and k not in SIDECAR_FIELDS.values()]
    if unknown:
        raise CorpusError(str(path), None, f"元数据文件中有未知的字段 {'、'.join(unknown)}(可用:{'、'.join(SIDECAR_KEYS)})")
    if "implements" in data and (not isinstance(data["implements"], list) or not all(isinstance(x, str) for x in data["implements"])):
        raise CorpusError(str(path), None, "implements 应为措施编号列表,如 implements = [\"m3\"]")
    if data.get("status", "现行") not in ("现行", "废止", "已废止", "有效", "失效"):
        raise CorpusError(str(path), None, f"status 只能是“现行”或“废止”,而不是“{data['status']}”")
    return data


def sidecar_fields(data: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in data.items():
        name = SIDECAR_FIELDS.get(key, key if key in SIDECAR_FIELDS.values() else None)
        if name is not None:
            out[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
    return out
