"""The one answer checker used by training rewards and by evaluation (first, simple version).

Usage: ``from mathgrpo.grading import grade; grade(completion, "42")  # True / False / None``
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 1000


def completion_text(completion) -> str:
    """A completion as text: a string, a list of chat messages (assistant contents joined), or None."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    parts = []
    for message in completion:
        if isinstance(message, str):
            parts.append(message)
        elif isinstance(message, dict) and message.get("role", "assistant") == "assistant":
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
    return "\n".join(parts)


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox``); None when absent or truncated."""
    if not text:
        return None
    pos = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if pos < 0:
        return None
    i = pos + (6 if text.startswith("\\boxed", pos) else 5)
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text):
        return None
    if text[i] != "{":
        m = re.match(r"[^\s$]+", text[i:])
        return m.group(0).rstrip(".,;") if m else None
    depth = 0
    start = i + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


_INT_RE = re.compile(r"^[+-]?\d+$")


def _as_int(s: str) -> int | None:
    s = s.strip().strip("$").replace("{,}", "").replace(",", "").replace(" ", "")
    s = re.sub(r"\.0*$", "", s)
    s = re.sub(r"\^\{?\\circ\}?$", "", s)
    return int(s) if _INT_RE.match(s) else None


@dataclass
class GradingStats:
    """Counts of what the grader did; ungradeable golds are the ones to watch."""

    calls: int = 0
    ungradeable_gold: int = 0
    timeouts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)


STATS = GradingStats()


def _mv_equal(gold: str, pred: str) -> bool | None:
    from math_verify import parse, verify

    g = parse(f"${gold}$", parsing_timeout=None)
    if not g:
        return None
    p = parse(f"${pred}$", parsing_timeout=None)
    return bool(verify(g, p, timeout_seconds=None))


def grade(completion, gold) -> bool | None:
    """True/False for the boxed answer against ``gold``; None when the gold cannot be graded."""
    STATS.add("calls")
    gold = "" if gold is None else str(gold).strip()
    if not gold or len(gold) > MAX_ANSWER_CHARS:
        STATS.add("ungradeable_gold")
        return None
    pred = extract_boxed(completion_text(completion))
    if pred is None or len(pred) > MAX_ANSWER_CHARS:
        return False
    g_int = _as_int(gold)
    if g_int is not None:
        p_int = _as_int(pred)
        if p_int is not None:
            return p_int == g_int
    result = _mv_equal(gold, pred)
    if result is None:
        STATS.add("ungradeable_gold")
    return result


def answers_equivalent(a: str, b: str) -> bool:
    """Symmetric equivalence of two extracted answers (for majority voting)."""
    if a is None or b is None:
        return False
    if a.strip() == b.strip():
        return bool(a.strip())
    ia, ib = _as_int(a), _as_int(b)
    if ia is not None and ib is not None:
        return ia == ib
    return bool(_mv_equal(a, b)) or bool(_mv_equal(b, a))


def count_boxes(text: str) -> int:
    """How many ``\\boxed``/``\\fbox`` commands the text holds."""
    return text.count("\\boxed") + text.count("\\fbox")
