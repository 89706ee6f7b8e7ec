"""The self-contained HTML report: headline figures against their targets, per-kind bars,
confusions, the ablation table and every failure with its evidence."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from ..answer import template_env
from ..clock import district_now
from ..errors import PolicyAssistantError
from .ablation import AblationRow
from .budget import BUDGET_COLUMNS, BUDGET_LABELS, BUDGET_LIMITS
from .faq import DECLINE_KINDS, KIND_LABELS, KINDS, NO_EXPECT_KINDS
from .metrics import ANSWER_METRICS, SPECS
from .results import PROBLEM_LABELS, PROBLEM_LABELS_EN, EvalReport

# Bars of issue 8 (answers that answer) and issue 10 (search-style questions). They hold on every
# file: a metric whose kind a file lacks is None there and simply not marked.
_ANSWER_TARGETS: Mapping[str, float] = {
    "fact_in_highlights": 0.95,
    "highlight_share": 0.5,  # at most: a highlight that is most of the paragraph highlights nothing
    "followup_accuracy": 0.9,
    "group_recall": 0.95,
    "group_list_excess": 2.0,  # at most: complete, yet no longer than needed + 2
    "multi_recall": 0.95,
    "multi_list_excess": 2.0,
    "other_place_declined": 0.95,
    "chain_answered": 0.95,
    "neighbour_declined": 0.95,
    "search_in_scope_top1": 0.90,
    "not_stated_right": 0.90,
}
# Quality bars by FAQ file name: issue 4's (top1 here is the headline, all items) and the above.
TARGETS: Mapping[str, Mapping[str, float]] = {
    "faq.jsonl": {
        "top1": 0.97,
        "hit3": 0.99,
        "no_match_recall": 0.96,
        "must": 0.98,
        "complete": 1.0,
        **_ANSWER_TARGETS,
    },
    "faq_holdout.jsonl": {"top1": 0.93, **_ANSWER_TARGETS},
    "faq_search_style.jsonl": dict(_ANSWER_TARGETS),
}
# Labels for what is not a chunk id in confusions and failure lists.
_NON_IDS = ("no_match", "greeting", "clarify")


class ReportError(PolicyAssistantError):
    """The HTML report cannot be written."""


def _html_env() -> jinja2.Environment:
    return template_env(html=True)


_HEADLINE = (
    ("top1", "首位准确率 top-1", "全部题目:政策内答对首条、政策外拒答、问候识别"),
    ("top1_in_scope", "政策内 top-1", "只算有 expect 的题目"),
    ("hit3", "前三命中 hit@3", "答复中的前 3 条含期望条目"),
    ("mrr", "MRR", "完整排序中期望条目的倒数名次(判定前)"),
    ("no_match_recall", "拒答召回", "政策外问题被拒答的比例"),
    ("no_match_precision", "拒答精确率", "拒答中确为政策外的比例"),
    ("must", "必含内容 must", "答复含有每题要求的原文片段"),
    ("complete", "完整性", "答复含电话和每条措施的责任单位"),
    ("p50_ms", "延迟 p50", "每次 ask 的毫秒数"),
    ("p95_ms", "延迟 p95", "每次 ask 的毫秒数"),
)
_ABLATION_COLS = (
    ("top1", "top-1"),
    ("top1_in_scope", "政策内 top-1"),
    ("hit3", "hit@3"),
    ("mrr", "MRR"),
    ("rank1", "排序首位"),
    ("no_match_recall", "拒答召回"),
    ("no_match_precision", "拒答精确率"),
    ("p50_ms", "p50 ms"),
)


def _targets_for(report: EvalReport) -> Mapping[str, float]:
    return TARGETS.get(Path(report.name).name, {})


def lower_is_better(key: str) -> bool:
    return key.endswith("_ms") or (key in SPECS and SPECS[key].better == "lower")


def meets(key: str, value: float, target: float) -> bool:
    return value <= target + 1e-9 if lower_is_better(key) else value >= target - 1e-9


def _is_count(key: str) -> bool:
    return key in SPECS and SPECS[key].unit == "count"


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "—"
    if key.endswith("_ms"):
        return f"{value:.1f}"
    if key == "mrr":
        return f"{value:.3f}"
    if _is_count(key):
        return f"{value:.2f}"
    return f"{value * 100:.1f}%"


def _gap(key: str, a: float | None, b: float | None) -> dict[str, Any] | None:
    """Held-out minus main, in the metric's own unit; "bad" when the held-out file is clearly worse."""
    if a is None or b is None or key.endswith("_ms"):
        return None
    d = b - a
    worse = -d if not lower_is_better(key) else d
    if key in SPECS and SPECS[key].better == "none":
        worse = 0.0
    if key == "mrr":
        return {"text": f"{d:+.3f}", "bad": worse > 0.02}
    if _is_count(key):
        return {"text": f"{d:+.2f}", "bad": worse > 0.5}
    return {"text": f"{d * 100:+.1f}", "bad": worse > 0.02}


def _score_rows(reports: Sequence[EvalReport], specs: Sequence[tuple[str, str, str]]) -> list[dict[str, Any]]:
    rows = []
    for key, title, hint in specs:
        values = []
        for r in reports:
            v = r.figure(key)
            target = _targets_for(r).get(key)
            ok = None if target is None or v is None else meets(key, v, target)
            values.append(
                {
                    "text": _fmt(key, v),
                    "target": _fmt(key, target) if target is not None else None,
                    "op": "≤" if lower_is_better(key) else "≥",
                    "ok": ok,
                    "n": r.figure_n(key),
                }
            )
        gap = _gap(key, reports[0].figure(key), reports[1].figure(key)) if len(reports) >= 2 else None
        rows.append({"key": key, "title": title, "hint": hint, "values": values, "gap": gap})
    return rows


def _heat(count: int, top: int) -> str:
    # Light to strong red by count; readable on white.
    alpha = 0.15 + 0.75 * (count / top if top else 0)
    return f"rgba(200, 40, 40, {alpha:.2f})"


def report_context(
    reports: Sequence[EvalReport],
    ablation_rows: Sequence[AblationRow] = (),
    labels: Mapping[str, str] | None = None,
    meta: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the template shows, precomputed (the template only lays it out)."""
    labels = dict(labels or {})
    labels.setdefault("no_match", "(拒答)")
    labels.setdefault("greeting", "(当作问候)")
    labels.setdefault("oos", "(政策外)")
    labels.setdefault("answer", "(作答)")
    labels.setdefault("clarify", "(请说明问哪一项)")
    labels.setdefault("place_other", "(外地)")
    labels.setdefault("neighbour", "(相邻事务)")
    files = [Path(r.name).name for r in reports]

    headline = _score_rows(reports, _HEADLINE)
    answer_rows = _score_rows(reports, [(s.key, s.title, s.hint) for s in ANSWER_METRICS])

    kinds = []
    for kind in KINDS:
        per = []
        for r in reports:
            ks = next((k for k in r.by_kind if k.kind == kind), None)
            per.append(
                None
                if ks is None
                else {
                    "top1": ks.top1,
                    "pct": f"{ks.top1 * 100:.0f}",
                    "n": ks.n,
                    "correct": ks.correct,
                    "fail": ks.failures,
                }
            )
        if any(per):
            kinds.append({"kind": kind, "label": KIND_LABELS[kind], "per": per})

    budget = []  # the error budget (issue 19): one table per file, total first, then per kind
    for r in reports:
        rows = []
        for row in r.budget:
            rates = []
            for key, value in (("oos_answered", row.oos_answered), ("in_scope_declined", row.in_scope_declined)):
                limit = BUDGET_LIMITS[key]
                ok = None if value is None else value <= limit + 1e-9
                rates.append({"text": "—" if value is None else f"{value * 100:.1f}%", "ok": ok})
            rows.append(
                {
                    "label": "合计" if row.label == "total" else KIND_LABELS.get(row.label, row.label),
                    "kind": row.label,
                    "n": row.n,
                    "counts": [row.counts[c] for c in BUDGET_COLUMNS],
                    "rates": rates,
                }
            )
        if rows:
            budget.append({"file": Path(r.name).name, "rows": rows})

    confusion = []
    for r in reports:
        cs = r.confusions
        rows = list(dict.fromkeys(c.expected for c in cs))
        cols = list(dict.fromkeys(c.got for c in sorted(cs, key=lambda c: c.got)))
        counts = {(c.expected, c.got): c.count for c in cs}
        top = max((c.count for c in cs), default=0)
        matrix = [
            {
                "expected": e,
                "cells": [
                    {"count": counts.get((e, g), 0), "color": _heat(counts.get((e, g), 0), top)}
                    if counts.get((e, g))
                    else None
                    for g in cols
                ],
            }
            for e in rows
        ]
        sections = []
        for title, keep in (
            (
                "答错条目:期望的条目 → 排在第一的条目",
                lambda c: c.expected not in NO_EXPECT_KINDS and c.got not in _NON_IDS and not c.got.startswith("漏列"),
            ),
            ("列举不全:应全部列出的条目 → 漏列的条目", lambda c: c.got.startswith("漏列")),
            (
                "误拒:期望的条目 → 拒答",
                lambda c: c.expected not in NO_EXPECT_KINDS and c.got in _NON_IDS,
            ),
            ("误答:政策外问题 → 给出的条目", lambda c: c.expected in DECLINE_KINDS),
            ("问候未识别", lambda c: c.expected == "greeting"),
            ("没有上文的追问 → 未请对方说明", lambda c: c.expected == "clarify"),
        ):
            chosen = [c for c in cs if keep(c)]
            if chosen:
                sections.append({"title": title, "pairs": chosen})
        confusion.append(
            {"file": Path(r.name).name, "pairs": cs, "sections": sections, "rows": rows, "cols": cols, "matrix": matrix}
        )

    ablation_view = []  # one table per FAQ set: rows = configurations
    if ablation_rows:
        for i, first in enumerate(ablation_rows[0].reports):
            best: dict[str, float] = {}
            for key, _ in _ABLATION_COLS:
                vals = [v for v in (getattr(row.reports[i], key) for row in ablation_rows) if v is not None]
                if vals:
                    best[key] = min(vals) if key.endswith("_ms") else max(vals)
            table = []
            for row in ablation_rows:
                rep = row.reports[i]
                cells = [
                    {"text": _fmt(key, v), "best": v is not None and key in best and math.isclose(v, best[key])}
                    for key, _ in _ABLATION_COLS
                    for v in [getattr(rep, key)]
                ]
                table.append(
                    {
                        "label": row.config.label,
                        "embedder": row.config.embedder,
                        "full": row.config.mode == "full",
                        "cells": cells,
                    }
                )
            ablation_view.append({"file": Path(first.name).name, "rows": table})

    failures = []
    for r in reports:
        groups = [
            {"problem": p, "label": PROBLEM_LABELS[p], "en": PROBLEM_LABELS_EN[p], "items": items}
            for p, items in r.failures_by_problem()
        ]
        failures.append({"file": Path(r.name).name, "n": len(r.failures), "groups": groups})

    return {
        "files": files,
        "reports": reports,
        "headline": headline,
        "answer_rows": answer_rows,
        "kinds": kinds,
        "budget": budget,
        "budget_cols": [BUDGET_LABELS[c] for c in BUDGET_COLUMNS],
        "budget_limits": {k: f"{v * 100:.0f}%" for k, v in BUDGET_LIMITS.items()},
        "confusion": confusion,
        "ablation_cols": [label for _, label in _ABLATION_COLS],
        "ablation": ablation_view,
        "failures": failures,
        "labels": labels,
        "kind_labels": KIND_LABELS,
        "meta": dict(meta or {}),
        "generated": district_now().strftime("%Y-%m-%d %H:%M"),
    }


def render_report(
    reports: Sequence[EvalReport],
    ablation_rows: Sequence[AblationRow] = (),
    labels: Mapping[str, str] | None = None,
    meta: Mapping[str, str] | None = None,
) -> str:
    """The self-contained HTML report (no external resources, no scripts)."""
    if not reports:
        raise ReportError("没有评测结果,无法生成报告")
    context = report_context(reports, ablation_rows, labels, meta)
    return _html_env().get_template("report.html.j2").render(**context)


def write_report(path: str | Path, html: str) -> Path:
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"无法写入报告 {p}: {exc.strerror or exc}") from exc
    return p

