"""Find the final answer in a completion: the last ``\\boxed{...}``, in linear time.

Usage: ``extract_boxed(completion_text(completion))  # "42", or None without a (complete) box``
"""

from __future__ import annotations

import re

_BOX_COMMANDS = ("\\boxed", "\\fbox")
# `\boxed 5` style: the token ends at whitespace, a math delimiter or the end of the text.
_TOKEN_END = frozenset(" \t\r\n$")


def completion_text(completion) -> str:
    """A completion as text.

    Accepts a string, a list of chat messages (TRL passes ``[{"role": "assistant", "content": ...}]``
    for conversational prompts; the assistant contents are joined), a single message dict, or None.
    Message content may itself be a list of parts (``[{"type": "text", "text": ...}]``).
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if not isinstance(completion, (list, tuple)):
        return ""
    parts: list[str] = []
    for message in completion:
        if isinstance(message, str):
            parts.append(message)
        elif isinstance(message, dict) and message.get("role", "assistant") == "assistant":
            parts.append(_content_text(message.get("content")))
    return "\n".join(p for p in parts if p)


def _content_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):  # multimodal-style parts
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        return "".join(t for t in texts if isinstance(t, str))
    return ""


def _last_command(text: str) -> tuple[int, int] | None:
    """(start, end) of the last ``\\boxed``/``\\fbox`` that is a whole command (not ``\\boxedx``)."""
    best: tuple[int, int] | None = None
    for cmd in _BOX_COMMANDS:
        pos = text.rfind(cmd)
        # Each rfind only scans the gap before the previous hit, so this loop is linear overall.
        while pos >= 0:
            end = pos + len(cmd)
            if end >= len(text) or not text[end].isalpha():
                if best is None or pos > best[0]:
                    best = (pos, end)
                break
            pos = text.rfind(cmd, 0, pos)
    return best


def _box_content(text: str, end: int) -> tuple[str | None, int]:
    """The argument of the box command ending at ``end`` and where it ends; (None, end) when the
    box is empty or truncated."""
    i, n = end, len(text)
    while i < n and text[i].isspace():
        i += 1
    if i >= n:
        return None, n
    if text[i] != "{":
        if text[i] == "}":  # `{\boxed}` -- a command with no argument
            return None, i
        start = i
        if text[i] == "\\":  # `\boxed \pi`: a control word is one token
            i += 1
            while i < n and text[i].isalpha():
                i += 1
            i = max(i, start + 2)
        while i < n and text[i] not in _TOKEN_END:
            i += 1
        token = text[start:i].rstrip(".,;:")
        return token or None, i
    depth, start = 0, i + 1
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2  # an escaped character (`\{`, `\}`, `\\`) never opens or closes a group
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i], i + 1
        i += 1
    return None, n


def extract_boxed(text: str) -> str | None:
    """Content of the LAST ``\\boxed{...}`` (nested braces, escaped ``\\{``), or of ``\\boxed 5``.

    A truncated last box (cut by the token limit, braces never closed) is no answer: None.
    We deliberately do not fall back to an earlier box: the model's final answer is the last one.
    """
    if not isinstance(text, str) or not text:
        return None
    found = _last_command(text)
    if found is None:
        return None
    end = found[1]
    # The common case, one `{...}` without nesting or escapes, without the general scan.
    if text.startswith("{", end):
        close = text.find("}", end)
        if close > 0 and "{" not in text[end + 1 : close] and "\\" not in text[end + 1 : close]:
            return text[end + 1 : close]
    return _box_content(text, end)[0]


# What may stand between the boxes of one final answer: `\boxed{(2,2)} and \boxed{(6,2)}`,
# `$\boxed{1}$, $\boxed{3}$`, `\(y_1 = \boxed{..}\) and \(y_2 = \boxed{..}\)` (math-verify joins boxes
# separated by `,`, `and`, `or` the same way).
_JOINERS = re.compile(
    r"\s+|\$|\\[()\[\]]|[,;]|\band\b|\bor\b|\\text\{\s*(?:and|or|,)?\s*\}|\\q?quad(?![a-zA-Z])"
    r"|(?<![A-Za-z])[A-Za-z](?:_\{?\w{1,3}\}?)?\s*=(?!=)"
    # a short note ending in a joiner: `\boxed{(3,3)} \text{ for part (a) and } \boxed{(1,1)}`
    r"|\\text\{[^{}]{0,30}\b(?:and|or)\s*\}"
)
MAX_JOINED_BOXES = 8


# One unit word may follow a box before the joiner: `\boxed{1} papers and \boxed{2} bins`.
_UNIT_BEFORE_JOINER = re.compile(r"^\s*\$?\s*[A-Za-z]{2,12}(?=\s+(?:and|or)\b)")


def _only_joiners(gap: str) -> bool:
    return len(gap) <= 40 and not _JOINERS.sub("", _UNIT_BEFORE_JOINER.sub("", gap, count=1))


def extract_final_boxes(text: str) -> str | None:
    """The final answer when it is written across several boxes: the last box, joined (``, ``)
    with the boxes right before it that only ``,``/``and``/``or``/spaces/``$`` separate from it.
    One box (or a repeat of the same box) gives just that box, as :func:`extract_boxed`."""
    if not isinstance(text, str) or not text:
        return None
    found = _last_command(text)
    if found is None:
        return None
    last, _ = _box_content(text, found[1])
    if last is None:
        return None
    parts, start = [last], found[0]
    while len(parts) < MAX_JOINED_BOXES:
        prev = _last_command(text[:start])
        if prev is None:
            break
        content, end = _box_content(text, prev[1])
        if content is None or end > start or not _only_joiners(text[end:start]):
            break
        if content.strip() not in (p.strip() for p in parts):
            parts.append(content)
        start = prev[0]
    return ", ".join(reversed(parts))


def last_box_end(text: str) -> int:
    """Where the last box command's argument ends (0 without a box)."""
    found = _last_command(text) if isinstance(text, str) else None
    return 0 if found is None else _box_content(text, found[1])[1]


def count_boxes(text: str) -> int:
    """How many box commands (``\\boxed``, ``\\fbox``) the text holds."""
    return sum(text.count(cmd) for cmd in _BOX_COMMANDS) if isinstance(text, str) else 0
