"""Backward-compatible name for :mod:`assistant.evaluation` (the evaluation was one module before
it was split into FAQ loading, scoring, ablation and the report). New code imports from
``assistant.evaluation``."""

from __future__ import annotations

from .evaluation import *  # noqa: F403 - re-exported on purpose
from .evaluation import __all__ as __all__
