"""argparse speaking Chinese: the CLI's own messages are Chinese, so its usage errors must be too.

argparse builds its messages from fixed English templates; the few a user can meet are mapped
here (a missing question, an unknown option, a bad number), the rest pass through unchanged.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"the following arguments are required: (.+)"), r"缺少参数:\1"),
    (re.compile(r"unrecognized arguments: (.+)"), r"无法识别的参数:\1"),
    (re.compile(r"argument (\S+): invalid int value: (.+)"), r"参数 \1 需要整数,收到的是 \2"),
    (re.compile(r"argument (\S+): invalid choice: (.+?) \(choose from (.+)\)"), r"参数 \1 的取值 \2 无效(可选:\3)"),
    (re.compile(r"argument (\S+): expected one argument"), r"参数 \1 后面需要一个值"),
    (re.compile(r"argument (\S+): (.+)"), r"参数 \1 有误:\2"),
)
_HELP_WORDS = (
    ("usage:", "用法:"),
    ("positional arguments:", "位置参数:"),
    ("options:", "选项:"),
    ("show this help message and exit", "显示帮助并退出"),
)


def translate(message: str) -> str:
    for pattern, chinese in _MESSAGES:
        if pattern.fullmatch(message):
            return pattern.sub(chinese, message)
    return message


class ChineseArgumentParser(argparse.ArgumentParser):
    def format_usage(self) -> str:
        return _chinese(super().format_usage())

    def format_help(self) -> str:
        return _chinese(super().format_help())

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"错误: {translate(message)}(加 -h 查看帮助)\n")


def _chinese(text: str) -> str:
    for english, chinese in _HELP_WORDS:
        text = text.replace(english, chinese)
    return text


__all__ = ["ChineseArgumentParser", "translate"]
