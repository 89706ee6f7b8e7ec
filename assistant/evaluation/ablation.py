"""Ablation: the same FAQ sets through lexical-only, dense-only and full retrieval, and through
other embedding models, to show what each part of the pipeline contributes."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .faq import FaqItem
from .results import EvalReport
from .scoring import evaluate


@dataclass(frozen=True)
class AblationConfig:
    label: str
    embedder: str
    use_lexical: bool
    use_dense: bool

    @property
    def mode(self) -> str:
        return "full" if self.use_lexical and self.use_dense else ("lexical" if self.use_lexical else "dense")


@dataclass(frozen=True)
class AblationRow:
    config: AblationConfig
    reports: tuple[EvalReport, ...]  # one per FAQ set, in the order given

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.config.label,
            "embedder": self.config.embedder,
            "mode": self.config.mode,
            "reports": [r.to_dict(failures=False) for r in self.reports],
        }


def ablation_configs(embedder: str = "e5", extra_embedders: Sequence[str] = ()) -> tuple[AblationConfig, ...]:
    """Lexical-only, dense-only and full for the main embedder; dense-only and full for each extra.

    Rule evidence (measure numbers, department names) stays on in every configuration: the
    ablation measures what BM25 and the vectors contribute on top of it.
    """
    main = short_spec(embedder)
    configs = [
        AblationConfig("仅关键词 lexical-only", embedder, True, False),
        AblationConfig(f"仅向量 dense-only ({main})", embedder, False, True),
        AblationConfig(f"完整 full ({main})", embedder, True, True),
    ]
    for spec in dict.fromkeys(extra_embedders):
        if spec == embedder:
            continue
        configs.append(AblationConfig(f"仅向量 dense-only ({short_spec(spec)})", spec, False, True))
        configs.append(AblationConfig(f"完整 full ({short_spec(spec)})", spec, True, True))
    return tuple(configs)


def short_spec(spec: str) -> str:
    """A model spec short enough for a table: "st:/long/path/to/org/model" → "st:org/model"."""
    kind, sep, rest = spec.partition(":")
    if not sep or "/" not in rest:
        return spec
    parts = [p for p in rest.split("/") if p]
    return f"{kind}:{'/'.join(parts[-2:])}"


def ablation(
    faq_sets: Sequence[Sequence[FaqItem]],
    *,
    corpus_dir: str | Path | None = None,
    index_dir: str | Path | None = None,
    embedder: str | None = None,
    extra_embedders: Sequence[str] = (),
    progress: bool = False,
) -> tuple[AblationRow, ...]:
    """Run every FAQ set through each configuration of :func:`ablation_configs`.

    The main embedder uses ``index_dir`` (default: the repo's index); every other embedder gets
    its own temporary index, so that the default index is never rebuilt for another model.
    """
    from ..embed import DEFAULT_EMBEDDER
    from ..service import Assistant, Settings

    main = embedder or Settings.from_env().embedder or DEFAULT_EMBEDDER
    rows = []
    with tempfile.TemporaryDirectory(prefix="policy-assistant-ablation-") as tmp:
        for config in ablation_configs(main, extra_embedders):
            idx = index_dir if config.embedder == main else Path(tmp) / _slug(config.embedder)
            bot = Assistant.load(
                corpus_dir,
                idx,
                config.embedder,
                progress=progress,
                use_lexical=config.use_lexical,
                use_dense=config.use_dense,
            )
            reports = tuple(evaluate(bot, items, progress=progress) for items in faq_sets)
            rows.append(AblationRow(config, reports))
    return tuple(rows)


def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in spec).strip("-")[:60] or "embedder"

