"""The one error the store raises: the log cannot be opened, reached or understood."""

from __future__ import annotations

from assistant.errors import PolicyAssistantError


class QuestionLogError(PolicyAssistantError):
    """The question log cannot be opened, is unreachable, or was written by a newer version."""


__all__ = ["QuestionLogError"]
