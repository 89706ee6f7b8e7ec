"""Figures for the staff dashboard, computed from the question log.

Pure functions over `LoggedQuestion` records: the web edge reads a period from the log, hands the
rows here with the assistant's embedder, and renders what comes back. Nothing here knows about
HTTP, cookies or templates, so the figures can be checked on a seeded log without a server.

Days are the district's days (Asia/Shanghai), not UTC ones: a question asked at 07:30 in
Chengyang belongs to that morning, although it is logged at 23:30 UTC the day before.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
import numpy as np

from .clock import DISTRICT_TZ
from .qlog import LoggedQuestion

__all__ = [
    "DISTRICT_TZ",
    "PERIODS",
    "Cluster",
    "Dashboard",
    "DayCount",
    "SlowQuestion",
    "UnhelpfulAnswer",
    "build_dashboard",
    "cluster_questions",
    "csv_safe",
    "period_bounds",
    "similarity_for",
    "to_csv",
    "unanswered_csv",
    "unhelpful_csv",
]

PERIODS = (7, 30, 90)  # days the dashboard offers
# Cosine above which two unanswered questions count as the same question, per embedder: each
# model has its own floor for unrelated text. Measured on short colloquial questions: e5 puts
# rewordings (失业金怎么领 / 失业了怎么领失业金 / 失业保险金在哪里申请) at 0.93–0.99 and different
# topics (公积金怎么提取, 医保怎么报销, 护照怎么办理) at 0.84–0.90 against them; the model-free chars
# embedder puts rewordings at ≥ 0.9 and other topics below 0.5. For any other model the stricter
# default: two groups that should be one cost an analyst a glance, one group hiding two topics
# hides a gap.
DEFAULT_SIMILARITY = 0.92
SIMILARITY_BY_EMBEDDER = {"e5": 0.92, "chars": 0.85}


def similarity_for(embedder_id: str) -> float:
    """The grouping threshold for an embedder id ("e5:multilingual-e5-small", "chars", "st:…")."""
    return SIMILARITY_BY_EMBEDDER.get(embedder_id.split(":", 1)[0], DEFAULT_SIMILARITY)
# Distinct unanswered questions embedded per dashboard view (the most frequent first): enough for
# any district's week, and a bound on the time one page view can spend in the model.
MAX_CLUSTERED = 500
# What a spreadsheet may read as the start of a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True)
class Cluster:
    """Questions that say the same thing; `label` is the wording asked most often."""

    label: str
    count: int
    variants: tuple[tuple[str, int], ...]  # (wording, times asked), most frequent first
    first: str  # UTC ISO timestamp of the earliest of them
    last: str  # and of the latest


@dataclass(frozen=True)
class UnhelpfulAnswer:
    created: str
    question: str
    kind: str
    answered: tuple[str, ...]  # chunk ids the answer showed, best first
    comment: str | None


@dataclass(frozen=True)
class SlowQuestion:
    created: str
    question: str
    latency_ms: float
    channel: str


@dataclass(frozen=True)
class Dashboard:
    days: int
    start: date  # first day of the period (district time)
    end: date  # last day, inclusive
    total: int
    per_day: tuple[DayCount, ...]  # every day of the period, zero days included
    answered: int
    declined: int
    clarified: int
    greetings: int
    followups: int  # questions answered with the previous answer as context
    helpful: int
    unhelpful: int
    unanswered: tuple[Cluster, ...]
    unhelpful_answers: tuple[UnhelpfulAnswer, ...]  # newest first
    top_measures: tuple[tuple[str, int], ...]  # (chunk id, questions answered with it)
    never_asked: tuple[str, ...]  # measures no answer of the period showed
    slow: tuple[SlowQuestion, ...]  # slowest first

    def share(self, n: int) -> float:
        return n / self.total if self.total else 0.0

    @property
    def helpful_ratio(self) -> float | None:
        """有帮助 / all votes; None without votes (a ratio of nothing is not 0 %)."""
        votes = self.helpful + self.unhelpful
        return self.helpful / votes if votes else None


def period_bounds(days: int, today: date, tz: tzinfo = DISTRICT_TZ) -> tuple[str, str]:
    """UTC ISO bounds [since, until) of the last `days` district days, today included."""
    start = datetime.combine(today - timedelta(days=days - 1), time(), tz)
    end = datetime.combine(today + timedelta(days=1), time(), tz)
    return start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()


def _local_day(created: str | None, tz: tzinfo) -> date | None:
    if not created:
        return None
    return datetime.fromisoformat(created).astimezone(tz).date()


def _same_text(question: str) -> str:
    """The question without width, case, spacing or punctuation: what counts as the same wording."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", question).lower())


def cluster_questions(
    asked: Iterable[tuple[str, str]],
    embed: Embed | None,
    threshold: float = DEFAULT_SIMILARITY,
    max_distinct: int = MAX_CLUSTERED,
) -> tuple[Cluster, ...]:
    """Group (question, created) pairs by meaning, largest group first.

    Wordings that differ only in punctuation, width or spacing are merged first. The rest are
    clustered greedily, most frequent first: a wording joins the first group whose leader (its
    most frequent wording) it resembles at cosine ≥ `threshold`, else it leads a new group. Leader
    clustering is order-stable and O(groups) per wording, and a group's label is, by
    construction, its most common wording. `embed` must return L2-normalised rows; with None
    (no embedder available) only the exact merge is done.
    """
    counts: Counter[str] = Counter()
    shown: dict[str, Counter[str]] = {}
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    for question, created in asked:
        key = _same_text(question) or question
        counts[key] += 1
        shown.setdefault(key, Counter())[question] += 1
        first[key] = min(first.get(key, created), created)
        last[key] = max(last.get(key, created), created)
    ordered = sorted(counts, key=lambda k: (-counts[k], k))
    clustered, rest = ordered[:max_distinct], ordered[max_distinct:]
    wording = {k: shown[k].most_common(1)[0][0] for k in ordered}

    groups: list[list[str]] = []
    if embed is not None and clustered:
        vectors = np.asarray(embed([wording[k] for k in clustered]), dtype=np.float32)
        leaders: list[int] = []
        for i in range(len(clustered)):
            if leaders:
                sims = vectors[leaders] @ vectors[i]
                best = int(np.argmax(sims))
                if float(sims[best]) >= threshold:
                    groups[best].append(clustered[i])
                    continue
            leaders.append(i)
            groups.append([clustered[i]])
    else:
        groups = [[k] for k in clustered]
    groups.extend([k] for k in rest)

    out = [
        Cluster(
            label=wording[members[0]],
            count=sum(counts[k] for k in members),
            variants=tuple((wording[k], counts[k]) for k in members),
            first=min(first[k] for k in members),
            last=max(last[k] for k in members),
        )
        for members in groups
    ]
    return tuple(sorted(out, key=lambda c: (-c.count, c.label)))


def build_dashboard(
    records: Sequence[LoggedQuestion],
    *,
    days: int,
    today: date,
    measures: Sequence[str],
    embed: Embed | None = None,
    threshold: float = DEFAULT_SIMILARITY,
    top: int = 10,
    tz: tzinfo = DISTRICT_TZ,
) -> Dashboard:
    """The dashboard for the last `days` days up to `today` (district time).

    `records` may hold more than the period (they are filtered here); `measures` are the ids
    that can be asked about, for the "never asked" list.
    """
    start = today - timedelta(days=days - 1)
    rows = [r for r in records if (d := _local_day(r.entry.created, tz)) is not None and start <= d <= today]
    per_day = Counter(_local_day(r.entry.created, tz) for r in rows)
    kinds = Counter(r.entry.kind for r in rows)
    shown: Counter[str] = Counter()
    for r in rows:
        if r.entry.kind == "answer":
            shown.update(set(r.entry.chunk_ids))  # a measure listed twice in one answer is one question
    votes = [r.feedback for r in rows if r.feedback is not None]
    unhelpful = sorted(
        (r for r in rows if r.feedback is not None and not r.feedback.helpful),
        key=lambda r: r.feedback.updated if r.feedback else "",
        reverse=True,
    )
    slow = sorted(rows, key=lambda r: -r.entry.latency_ms)[:top]
    return Dashboard(
        days=days,
        start=start,
        end=today,
        total=len(rows),
        per_day=tuple(DayCount(start + timedelta(days=i), per_day.get(start + timedelta(days=i), 0)) for i in range(days)),
        answered=kinds["answer"],
        declined=kinds["no_match"],
        clarified=kinds["clarify"],
        greetings=len(rows) - kinds["answer"] - kinds["no_match"] - kinds["clarify"],
        followups=sum(1 for r in rows if r.entry.context_used),
        helpful=sum(1 for v in votes if v.helpful),
        unhelpful=sum(1 for v in votes if not v.helpful),
        unanswered=cluster_questions(
            ((r.entry.question, r.entry.created or "") for r in rows if r.entry.kind == "no_match"), embed, threshold
        ),
        unhelpful_answers=tuple(
            UnhelpfulAnswer(r.entry.created or "", r.entry.question, r.entry.kind, r.entry.chunk_ids, r.feedback.comment)
            for r in unhelpful
            if r.feedback is not None
        ),
        top_measures=tuple(sorted(shown.items(), key=lambda kv: (-kv[1], kv[0]))[:top]),
        never_asked=tuple(m for m in measures if m not in shown),
        slow=tuple(SlowQuestion(r.entry.created or "", r.entry.question, r.entry.latency_ms, r.entry.channel) for r in slow),
    )


# ---- CSV export ---------------------------------------------------------------------------------


def csv_safe(value: object) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula gets a leading quote.

    Questions are typed by the public; 「=HYPERLINK(…)」 or 「+1-2」 must reach the analyst as the
    words, not run in Excel or WPS. Leading whitespace is looked through, since spreadsheets do.
    """
    text = "" if value is None else str(value)
    if text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text with every cell made safe; starts with a BOM so Excel reads it as UTF-8."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([csv_safe(h) for h in header])
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])
    return "\ufeff" + buf.getvalue()


def _local_time(created: str, tz: tzinfo = DISTRICT_TZ) -> str:
    return datetime.fromisoformat(created).astimezone(tz).strftime("%Y-%m-%d %H:%M") if created else ""


def unanswered_csv(dashboard: Dashboard) -> str:
    """One row per group of unanswered questions: the seed of a glossary line or an FAQ entry."""
    return to_csv(
        ("问题", "次数", "相似问法", "首次", "最近"),
        (
            (c.label, c.count, " | ".join(f"{w} ×{n}" for w, n in c.variants[1:]), _local_time(c.first), _local_time(c.last))
            for c in dashboard.unanswered
        ),
    )


def unhelpful_csv(dashboard: Dashboard, labels: Mapping[str, str]) -> str:
    """One row per answer marked 没帮助, with what was answered and the citizen's comment."""
    return to_csv(
        ("时间", "问题", "答复类型", "答复条目", "意见"),
        (
            (_local_time(u.created), u.question, u.kind, "、".join(labels.get(i, i) for i in u.answered), u.comment or "")
            for u in dashboard.unhelpful_answers
        ),
    )
