"""What a question asks for (an amount, a department, whether it still applies…) and whether it
has a topic of its own.

Both are read from data (`corpus/lexicon/intents.tsv`, `followup.txt`) so that the hotline's
vocabulary grows without code. The answer stage uses the intents to pick the key sentences of a
measure; the follow-up stage uses `elliptical` to tell 「那找哪个部门？」 (about the previous answer)
from 「创业贷款找哪个部门？」 (a question of its own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError
from .subject import read_words
from .text import Lexicon, normalize

# Intents whose answer is a fact stated in a sentence (as opposed to "which department", answered
# by the unit clause, or "what is there for me", answered by a list).
# Question words: a clause with one of these asks something of its own.
# 谁 and the A-not-A form (招不招, 给不给, 有没有) ask as surely as 吗; so do the northern 咋 (= 怎么: 咋申请) and a
# clause that ends in 不/没 (有补贴不, 能帮着推荐岗位不: the spoken yes-no question).
_QUESTION_RE = re.compile(r"吗|呢|什么|哪|怎么|怎样|如何|多少|几|是否|能否|谁|啥|咋|干嘛|([\u4e00-\u9fff])[不没]\1|[不没]$")

FACT_INTENTS = (
    "amount", "rate", "count", "timing", "period", "within", "deadline", "duration", "frequency", "place", "how",
)  # fmt: skip


@dataclass(frozen=True)
class IntentRule:
    name: str
    cues: re.Pattern[str]
    evidence: re.Pattern[str] | None  # a sentence that states the fact; None: no sentence does
    aspect: str  # what it is called in "文件中没有写明{aspect}"
    supersedes: tuple[str, ...] = ()  # less specific intents the same words would also trigger


@dataclass(frozen=True)
class QuestionIntent:
    """What one question asks for, and what is left of it once those words are taken away."""

    intents: tuple[str, ...]  # in the order of intents.tsv
    topic: tuple[str, ...]  # tokens that say what the question is about
    deictic: bool  # points back at something said before ("这个", "上面说的")

    @property
    def elliptical(self) -> bool:
        """No topic of its own: only an intent, a pointer back, or nothing at all."""
        return not self.topic

    def asks(self, name: str) -> bool:
        return name in self.intents

    @property
    def facts(self) -> tuple[str, ...]:
        return tuple(i for i in self.intents if i in FACT_INTENTS)


def _lines(path: Path) -> list[tuple[int, str]]:
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8").splitlines()
    return [(n, ln.rstrip("\n")) for n, ln in enumerate(text, 1) if ln.strip() and not ln.startswith("#")]


def _top_level_split(text: str) -> list[str]:
    """Split cues at "|" outside parentheses, so a cue may itself hold a group like (?:政策|扶持)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "\\":
            continue
        if ch == "(" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == ")" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def read_intents(path: Path) -> tuple[IntentRule, ...]:
    rules = []
    for n, line in _lines(path):
        cols = line.split("\t")
        if len(cols) not in (3, 4, 5) or not cols[0].strip() or not cols[1].strip():
            raise CorpusError(str(path), n, "需要“意图<TAB>问法|问法<TAB>句子特征<TAB>名称[<TAB>取代的意图]”四或五列")
        try:
            cues = re.compile("|".join(f"(?:{c})" for c in _top_level_split(cols[1]) if c))
            evidence = re.compile(cols[2]) if cols[2].strip() else None
        except re.error as exc:
            raise CorpusError(str(path), n, f"正则表达式有误: {exc}") from exc
        aspect = cols[3].strip() if len(cols) > 3 else ""
        supersedes = tuple(cols[4].split()) if len(cols) > 4 else ()
        rules.append(IntentRule(cols[0].strip(), cues, evidence, aspect, supersedes))
    return tuple(rules)


class IntentReader:
    """Reads intents and topic words of questions against one lexicon."""

    def __init__(self, lexicon: Lexicon, group_words: tuple[str, ...] = ()) -> None:
        self.lexicon = lexicon
        self.rules = read_intents(lexicon.dir / "intents.tsv")
        self.by_name = {r.name: r for r in self.rules}
        lines = [ln for _, ln in _lines(lexicon.dir / "followup.txt")]
        self.deictic_words = tuple(sorted({w for w in (lines[0].split() if lines else ())}, key=len, reverse=True))
        self.generic = frozenset(w for ln in lines[1:2] for w in ln.split())
        # Words that say nothing more about a group question than the group itself: those of followup.txt's third
        # line, and the words that never carry the subject of any question (generic.txt: 文件里, 说法, 有关) —
        # 「文件里跟残疾人有关的都有哪些」 is still about the group.
        generic = read_words(lexicon.dir / "generic.txt")
        self.group_neutral = (
            self.generic
            | frozenset(w for ln in lines[2:3] for w in ln.split())
            | generic
            | frozenset(t for w in generic for t in lexicon.tokens(w))
        )
        # Group words ("大学生", "退役军人") are a topic of their own: 「我是大学生呢」 is a new question.
        self.group_words = group_words

    def read(self, question: str) -> QuestionIntent:
        text = normalize(question)
        read = [r for r in self.rules if r.cues.search(text)]
        dropped = {name for r in read for name in r.supersedes}
        intents = tuple(r.name for r in read if r.name not in dropped)
        rest = text
        for r in self.rules:
            rest = r.cues.sub(" ", rest)
        deictic = False
        topic_groups: list[str] = []
        for w in self.deictic_words:
            if w in rest:
                deictic = True
                rest = rest.replace(w, " ")
        # A group named ("用人单位", "退役军人") is a topic even where its words are generic ("单位").
        for w in self.group_words:
            if w in rest:
                topic_groups.append(w)
                rest = rest.replace(w, " ")
        # A lone character left over ("办", "领") is a fragment of a cue, not a topic.
        # Numbers stay: 「100元的补贴是什么」 is about the measure that states 100元.
        topic = [t for t in self.lexicon.tokens(rest) if t not in self.generic and (len(t) > 1 or t.isdigit())]
        return QuestionIntent(intents, tuple(dict.fromkeys([*topic_groups, *topic])), deictic)

    def strip(self, text: str) -> str:
        """`text` without what it asks for (the intents' cues) and without words pointing back."""
        for r in self.rules:
            text = r.cues.sub(" ", text)
        for w in self.deictic_words:
            text = text.replace(w, " ")
        return text

    def asks_something(self, text: str) -> bool:
        """Whether a clause is itself a question: an intent cue or a question word."""
        norm = normalize(text)
        return any(r.cues.search(norm) for r in self.rules) or bool(_QUESTION_RE.search(norm))

    def rule(self, name: str) -> IntentRule | None:
        return self.by_name.get(name)


__all__ = ["FACT_INTENTS", "IntentReader", "IntentRule", "QuestionIntent", "read_intents"]
