"""Scan a data directory and log files for raw personal data that should have been redacted.

    python scripts/scan_pii.py [PATH ...]          # default: $POLICY_ASSISTANT_DATA or ./var
    python scripts/scan_pii.py var/ /var/log/policy-assistant/*.log --json

Looks for checksum-valid 18-digit resident ID numbers (GB 11643), mainland mobile numbers
(1[3-9] + 9 digits, also written 139-1234-5678 / +86 139 1234 5678) and Luhn-valid 16–19-digit
bank card numbers, in
  - every SQLite database, cell by cell (`*.sqlite3`, `*.db`), and
  - the raw bytes of every file (the database itself, its -wal and -shm files, logs, anything
    else), so data in freed pages or an un-checkpointed write-ahead log is found too.
Full-width digits are folded to ASCII first. The detectors are written independently of
assistant.redact on purpose: a scanner that shared the redactor's code would share its blind spots.

Prints counts per kind and per file, with findings masked (the scanner must not leak what it
finds). Exit status: 0 when nothing was found, 1 otherwise, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

KINDS = ("id_card", "mobile", "bank_card")
LABELS = {"id_card": "身份证号", "mobile": "手机号", "bank_card": "银行卡号"}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Separators people type inside numbers: one space or dash between groups. A digit run may not
# start right after a digit or a decimal point (0.83123456789012345 is a score, not a card).
_SEP = r"[ \-]?"
# An X check character ends an ID even when digits follow (an ID glued to a phone number).
_ID_RE = re.compile(rf"(?<![0-9.])[0-9]{{6}}{_SEP}[0-9]{{8}}{_SEP}[0-9]{{3}}(?:[0-9](?![0-9])|[Xx])")
# Longer digit runs may be an ID glued to other digits: its first or last 18 are checked.
_LONG_RUN_RE = re.compile(r"(?<![0-9.])[0-9]{19,}[Xx]?")
_CARD_RE = re.compile(rf"(?<![0-9.])[0-9]{{4}}(?:{_SEP}[0-9]{{4}}){{3}}(?:{_SEP}[0-9]{{1,3}})?(?![0-9])")
_MOBILE_RE = re.compile(rf"(?<![0-9.])(?:(?:\+|00)?86{_SEP})?1[3-9][0-9]{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}}(?![0-9])")


def valid_id(number: str) -> bool:
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= born <= date.today():
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return number[17].upper() == _ID_CHECK[total % 11]


def luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"[^0-9Xx]", "", text)


def mask(number: str) -> str:
    return number[:3] + "*" * max(len(number) - 7, 0) + number[-4:] if len(number) > 7 else "*" * len(number)


def find(text: str) -> Iterator[tuple[str, str]]:
    """(kind, masked number) for every raw ID, card or mobile in `text`.

    Passes run ID → card → mobile and blank out what they accepted, so one number is counted once
    (a valid ID is also Luhn-valid one time in ten; a phone could hide inside a card).
    """
    text = unicodedata.normalize("NFKC", text)
    glued = []
    for m in _LONG_RUN_RE.finditer(text):
        for start in (m.start(), m.end() - 18):
            if valid_id(text[start : start + 18]):
                glued.append((start, start + 18))
                yield "id_card", mask(text[start : start + 18])
                break
    for start, end in glued:
        text = text[:start] + "#" * (end - start) + text[end:]
    for kind, pattern, accept in (
        ("id_card", _ID_RE, valid_id),
        ("bank_card", _CARD_RE, lambda n: luhn(n) and len(set(n)) > 1),
        ("mobile", _MOBILE_RE, lambda n: True),
    ):
        spans = []
        for m in pattern.finditer(text):
            number = _digits(m.group())
            if accept(number):
                spans.append(m.span())
                yield kind, mask(number)
        for start, end in spans:
            text = text[:start] + "#" * (end - start) + text[end:]


@dataclass
class Report:
    files: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    where: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, source: str, text: str) -> None:
        for kind, masked in find(text):
            self.counts[kind] += 1
            per = self.where.setdefault(source, dict.fromkeys(KINDS, 0))
            per[kind] += 1
            if len(self.samples) < 20:
                self.samples.append(f"{source}: {LABELS[kind]} {masked}")

    def as_dict(self) -> dict[str, object]:
        return {"files": self.files, "total": self.total, "counts": self.counts, "where": self.where}


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _sqlite_cells(path: Path) -> Iterator[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            for row in conn.execute(f"SELECT * FROM {quoted}"):  # table names come from sqlite_master
                for cell in row:
                    if isinstance(cell, bytes):
                        yield cell.decode("utf-8", "replace")
                    elif cell is not None:
                        yield str(cell)
    finally:
        conn.close()


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path


def scan(paths: Iterable[Path]) -> Report:
    report = Report()
    for path in _files(paths):
        report.files += 1
        try:
            raw = path.read_bytes()
        except OSError as exc:
            report.warnings.append(f"无法读取 {path}: {exc}")
            continue
        report.add(str(path), raw.decode("utf-8", "replace"))
        if _is_sqlite(path):
            try:
                for cell in _sqlite_cells(path):
                    report.add(f"{path} (表内容)", cell)
            except sqlite3.Error as exc:
                report.warnings.append(f"无法按表读取 {path}: {exc}(已按原始字节扫描)")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="数据目录或日志文件(默认 $POLICY_ASSISTANT_DATA 或 ./var)")
    parser.add_argument("--json", action="store_true", help="以 JSON 输出")
    args = parser.parse_args(argv)
    paths = args.paths or [Path(os.environ.get("POLICY_ASSISTANT_DATA") or "var")]
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"路径不存在: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    report = scan(paths)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        for warning in report.warnings:
            print(f"警告: {warning}", file=sys.stderr)
        parts = ", ".join(f"{LABELS[k]} {report.counts[k]}" for k in KINDS)
        print(f"扫描 {report.files} 个文件: {parts} — 共 {report.total} 处未脱敏的个人信息")
        for sample in report.samples:
            print(f"  {sample}")
    return 1 if report.total else 0


if __name__ == "__main__":
    raise SystemExit(main())
