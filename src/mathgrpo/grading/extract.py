"""Find the final answer in a completion: the last ``\\boxed{...}``, in linear time.

Usage: ``extract_boxed(completion_text(completion))  # "42", or None without a (complete) box``
"""

from __future__ import annotations

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
    i, n = found[1], len(text)
    while i < n and text[i].isspace():
        i += 1
    if i >= n:
        return None
    if text[i] != "{":
        if text[i] == "}":  # `{\boxed}` -- a command with no argument
            return None
        start = i
        if text[i] == "\\":  # `\boxed \pi`: a control word is one token
            i += 1
            while i < n and text[i].isalpha():
                i += 1
            i = max(i, start + 2)
        while i < n and text[i] not in _TOKEN_END:
            i += 1
        token = text[start:i].rstrip(".,;:")
        return token or None
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
                return text[start:i]
        i += 1
    return None


def count_boxes(text: str) -> int:
    """How many box commands (``\\boxed``, ``\\fbox``) the text holds."""
    return sum(text.count(cmd) for cmd in _BOX_COMMANDS) if isinstance(text, str) else 0
