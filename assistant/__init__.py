"""Chengyang employment-policy assistant (青城政办发〔2024〕13号): retrieval + templates, no generation."""

from .answer import Answer, MeasureAnswer
from .errors import (
    CorpusError,
    EmbedderError,
    IndexProblem,
    InvalidQuestion,
    PolicyAssistantError,
    UnknownChunk,
)
from .service import Assistant

__all__ = [
    "Answer",
    "Assistant",
    "CorpusError",
    "EmbedderError",
    "IndexProblem",
    "InvalidQuestion",
    "MeasureAnswer",
    "PolicyAssistantError",
    "UnknownChunk",
]
