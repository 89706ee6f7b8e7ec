"""Evaluation over FAQ files, in four stages: loading the questions (faq), asking and scoring them
(scoring, into the records of results; the answer-quality figures of issues 8 and 10 in metrics),
comparing retrieval configurations (ablation) and the HTML report (report).

Metric definitions are in the scoring module's doc and, for people, in eval/README.md.
"""

from __future__ import annotations

from .ablation import AblationConfig, AblationRow, ablation, ablation_configs, short_spec
from .budget import BUDGET_COLUMNS, BUDGET_LABELS, BUDGET_LIMITS, BudgetRow, budget_class, error_budget
from .faq import (
    DECLINE_KINDS,
    KIND_LABELS,
    KINDS,
    MAX_QUESTION_CHARS,
    NO_EXPECT_KINDS,
    FaqError,
    FaqItem,
    check_ids,
    load_faq,
    parse_faq_line,
)
from .metrics import ANSWER_METRICS, MetricSpec, answer_metrics
from .report import TARGETS, ReportError, render_report, report_context, write_report
from .results import (
    PROBLEM_LABELS,
    PROBLEM_LABELS_EN,
    PROBLEMS,
    AnswerMetric,
    Confusion,
    EvalReport,
    Evidence,
    ItemResult,
    KindStats,
)
from .scoring import Bot, evaluate, score_item, summarize

__all__ = [
    "ANSWER_METRICS",
    "BUDGET_COLUMNS",
    "BUDGET_LABELS",
    "BUDGET_LIMITS",
    "DECLINE_KINDS",
    "KINDS",
    "KIND_LABELS",
    "MAX_QUESTION_CHARS",
    "NO_EXPECT_KINDS",
    "PROBLEMS",
    "PROBLEM_LABELS",
    "PROBLEM_LABELS_EN",
    "TARGETS",
    "AblationConfig",
    "AblationRow",
    "AnswerMetric",
    "Bot",
    "BudgetRow",
    "Confusion",
    "EvalReport",
    "Evidence",
    "FaqError",
    "FaqItem",
    "ItemResult",
    "KindStats",
    "MetricSpec",
    "ReportError",
    "ablation",
    "ablation_configs",
    "answer_metrics",
    "budget_class",
    "check_ids",
    "error_budget",
    "evaluate",
    "load_faq",
    "parse_faq_line",
    "render_report",
    "report_context",
    "score_item",
    "short_spec",
    "summarize",
    "write_report",
]
