"""Pure-Python answer normalisation: canonical strings and exact numbers, never floats.

Usage: ``exact_number("1{,}000 \\text{ cm}") == Fraction(1000)``; ``canonical("\\dfrac{1}{2}") == "\\frac{1}{2}"``

Every function here runs in linear time on its input (no nested quantifiers in any regex), and
callers cap the input length first, so nothing here can hang. Integers are compared as Python
ints and decimals as ``Fraction``s: a 23-digit DAPO gold is never rounded through a float.
"""

from __future__ import annotations

import re
from fractions import Fraction

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_UNICODE = str.maketrans({"\u2212": "-", "\u2013": "-", "\u00a0": " ", "\u2009": " ", "\u202f": " "})
_THOUSANDS = re.compile(r"(?<=\d)(?:,\s*\\!\s*|\{,\}|\\[,!]\s*|\\ )(?=\d{3}(?!\d))")
# `\\` (a matrix row break) is matched first so that its second backslash never starts `\ `.
_NEG_SPACE = re.compile(r"(\\\\)|\\!")
_SPACING = re.compile(r"(\\\\)|\\[,:;> ]|\\q?quad(?![a-zA-Z])|~")
_SIZING = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|bigg|Bigg)(?![a-zA-Z])")
_STYLE = re.compile(r"\\(?:displaystyle|textstyle)(?![a-zA-Z])")
_FRAC = re.compile(r"\\[dt]frac(?![a-zA-Z])")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
# An upright e or i (`\mathrm{e}`, `\operatorname{i}`, `{\rm e}`) is Euler's number or the imaginary
# unit, written the way ISO 80000-2 asks. math-verify stops parsing at `\mathrm{e}` after an operator
# (`1 + \frac{1}{\mathrm{e}}` reads as 1) and a unit rule would strip `3\mathrm{i}` to 3, so every path
# sees the bare letter instead.
_UPRIGHT_CONSTANT = re.compile(
    r"\\(?:mathrm|text|textrm|textnormal|textup|mathup|operatorname|mathit|mbox)\s*\{\s*([ei])\s*\}"
    r"|\{\s*\\rm\s+([ei])\s*\}"
)
_SPACES = re.compile(r"\s+")
# A space matters only between two word characters (`\pi r`, `1 000`); elsewhere drop it.
_LOOSE_SPACE = re.compile(r"(?<=\W) | (?=\W)")

# Decorations that do not change an answer's value. Each is anchored at the start or the end.
_UNIT_TEXT = re.compile(
    # Two letters at least: a single letter is a variable or a constant (`3\mathrm{i}`), never a unit.
    r"(?<=[\d}.])\s*\\(?:text|textrm|textnormal|mbox|mathrm)\s*\{\s*[A-Za-z][ .]*[A-Za-z][A-Za-z .]*\}"
    r"(?:\^\{?[23]\}?)?$"
)
_UNIT_WORD = re.compile(
    r"(?<=[\d\s])(?:square |sq\.? |cubic )?(?:units?|cm|mm|km|meters?|metres?|inch(?:es)?|feet|foot|ft|"
    r"yards?|miles?|degrees?|dollars?|cents?|seconds?|minutes?|hours?|days?|weeks?|months?|years?|"
    r"ways?|people|persons?|students?|times|points?|grams?|kg|pounds?|lbs?|mph|percent(?:age)?|pct)\.?(?:\^\{?[23]\}?)?$",
    re.IGNORECASE,
)
_DEGREE = re.compile(r"(?:\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree|°)$")
_PERCENT = re.compile(r"\\?%$")
_ASSIGN = re.compile(r"^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?\s*=(?!=)")

_NUMBER_SPACE = re.compile(r"(?<=[+\-/{}]) | (?=[/{}])")
# Digit groups (`1,000`, `1 000`) only after a leading group that is not 0: `0,111` is no integer
# (math-verify reads it as the decimal 0.111), and the caller never applies this inside a tuple.
_DECIMAL = re.compile(r"^([+-]?)([1-9]\d{0,2}(?:[, ]\d{3})+|\d*)(?:\.(\d*))?$")
_FRACTION = re.compile(r"^([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}$")
_FRACTION_SHORT = re.compile(r"^([+-]?)\\frac(\d)(\d)$")
_SLASH = re.compile(r"^([+-]?)(\d+)/(\d+)$")


def number_text(value: float | int) -> str | None:
    """A number as answer text, the one rule for every reader of golds: an int in full (23 digits
    stay exact), a whole float without its ``.0`` (AMC stores ``27.0``), other floats as Python
    writes them; NaN and infinities are no answer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _wrapping_braces(s: str) -> bool:
    """True when the first ``{`` closes at the very end: ``{5}`` but not ``{1}{2}``."""
    if len(s) < 2 or s[0] != "{" or s[-1] != "}":
        return False
    depth = 0
    for i, c in enumerate(s):
        depth += (c == "{") - (c == "}")
        if depth == 0:
            return i == len(s) - 1
    return False


def unwrap_boxed(s: str) -> str:
    """``\\boxed{X}`` -> ``X`` when the whole string is one box (some golds keep theirs)."""
    t = s.strip()
    for cmd in ("\\boxed", "\\fbox"):
        if t.startswith(cmd) and _wrapping_braces(t[len(cmd) :].lstrip()):
            return t[len(cmd) :].lstrip()[1:-1].strip()
    return s


def upright_constants(s: str) -> str:
    """``\\mathrm{e}``, ``\\operatorname{i}``, ``{\\rm e}`` ... -> ``e``, ``i`` (see ``_UPRIGHT_CONSTANT``)."""
    return _UPRIGHT_CONSTANT.sub(lambda m: m.group(1) or m.group(2), s)


def basic_clean(s: str) -> str:
    """Meaning-preserving clean-up shared by every path: control characters, dollars, spacing."""
    s = _CTRL.sub(" ", s.translate(_UNICODE))
    s = s.replace("\\$", "").replace("$", "")
    s = upright_constants(s)
    # `10,\!080`, `1{,}000`, `1\,000`: digit-group separators; math-verify reads `10\,080` as 90.
    s = _THOUSANDS.sub(lambda m: "," if "," in m.group(0) else "", s)
    s = _NEG_SPACE.sub(lambda m: m.group(1) or "", s)
    s = _SPACING.sub(lambda m: m.group(1) or " ", s)
    s = _SIZING.sub("", s)
    s = _STYLE.sub("", s)
    s = _FRAC.sub(r"\\frac", s)
    s = s.replace("{,}", ",").replace("\\%", "%")
    return _SPACES.sub(" ", s).strip()


def canonical(s: str) -> str:
    """A canonical spelling: two answers with the same canonical string are the same answer."""
    s = _TEXT_WRAP.sub(r"\1", basic_clean(unwrap_boxed(s)))
    s = _LOOSE_SPACE.sub("", _SPACES.sub(" ", s).strip())
    while _wrapping_braces(s):
        s = s[1:-1]
    return s.rstrip(".").strip()


def _top_level_split(s: str, sep: str) -> list[str]:
    """``s`` split at each ``sep`` outside braces and brackets (linear)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(s):
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    return [*parts, s[start:]]


_LETTER = re.compile(r"[A-Za-z]")
_COMMAND = re.compile(r"\\[A-Za-z]+")


def stated_value(s: str) -> str:
    """The integer at the end of a worked equation chain the text states (``96+48 = {144}``,
    ``a+b=-1+5=4``), else ``s`` unchanged. Only a chain of arithmetic (no letters on its left) or of
    three sides or more qualifies: ``x^2+y^2=25`` is an equation, not a computation of 25."""
    if "=" not in s or any(op in s for op in ("<=", ">=", "!=", "==")) or len(_top_level_split(s, ",")) > 1:
        return s
    sides = _top_level_split(s, "=")
    last = sides[-1].strip()
    if len(sides) < 2 or integer_literal(last) is None:
        return s
    if len(sides) >= 3 or not _LETTER.search(_COMMAND.sub("", sides[0])):
        return last
    return s


_MARKDOWN = re.compile(r"\*\*|__")


def clean_stated(s: str) -> str:
    """An answer found in running text without its surroundings: markdown bold (``**92**.``), a final
    period or comma, a closing parenthesis whose opening one the match left behind (``105).``)."""
    s = _MARKDOWN.sub("", s).strip()
    for _ in range(3):
        before = s
        s = s.rstrip(".,;:").strip()
        # `[0,1)` is a half-open interval: brackets of either shape count as a pair
        if s.endswith(")") and s.count(")") + s.count("]") > s.count("(") + s.count("["):
            s = s[:-1].strip()
        if s == before:
            break
    return s


def strip_decorations(s: str) -> str:
    """Drop what does not change a number's value: ``x =``, units, ``^\\circ``, ``\\%``, a final period."""
    s = basic_clean(unwrap_boxed(s))
    for _ in range(3):  # `5\text{ cm}^2.` peels in a few rounds; the bound keeps it linear
        before = s
        s = s.rstrip(". ").strip()
        if s.endswith("\\") and not s.endswith("\\\\"):  # a stray backslash at the end (`185\`)
            s = s[:-1].strip()
        s = _UNIT_TEXT.sub("", s).strip()
        s = _UNIT_WORD.sub("", s).strip()
        s = _DEGREE.sub("", s).strip()
        s = _PERCENT.sub("", s).strip()
        if s == before:
            break
    s = _ASSIGN.sub("", s, count=1).strip()
    s = _TEXT_WRAP.sub(r"\1", s).strip()
    while _wrapping_braces(s):
        s = s[1:-1].strip()
    return s


def _number_text(s: str) -> str:
    """``s`` without decorations, spaces beside signs, or one pair of parentheses around a lone
    number (AoPS boxes AIME answers as ``\\textbf{(113)}``; ``(1, 2)`` stays a pair)."""
    # Spaces go only beside signs, slashes and braces: `1, 234` stays a pair, `- 5` becomes `-5`.
    t = _NUMBER_SPACE.sub("", _SPACES.sub(" ", strip_decorations(s)))
    inner = t[1:-1].strip()
    # A comma inside parentheses makes a pair, never a grouped integer: `(10,100)` is not 10100.
    if (
        t.startswith("(")
        and t.endswith(")")
        and "," not in inner
        and any(c.isdigit() for c in inner)
        and _DECIMAL.match(inner)
    ):
        return inner
    return t


def exact_number(s: str) -> Fraction | None:
    """The exact value of a plain number (integer, decimal, ``\\frac{a}{b}``, ``a/b``), else None.

    ``1,000``, ``1{,}000``, ``025``, ``5.0``, ``-7``, ``x = 5``, ``90^\\circ``, ``12 \\text{ cm}`` all
    qualify; ``2^{10}`` or ``\\sqrt{4}`` do not (math-verify decides those, exactly).
    """
    t = _number_text(s)
    m = _DECIMAL.match(t)
    if m:
        sign, whole, frac = m.groups()
        whole = whole.replace(",", "").replace(" ", "")
        if not whole and not frac:
            return None
        value = Fraction(int(whole or "0"))
        if frac:
            value += Fraction(int(frac), 10 ** len(frac))
        return -value if sign == "-" else value
    m = _FRACTION.match(t) or _FRACTION_SHORT.match(t) or _SLASH.match(t)
    if m:
        sign, num, den = m.groups()
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        return -value if sign == "-" else value
    return None


def integer_literal(s: str) -> int | None:
    """The integer an answer *writes* (``025``, ``5.0``, ``1{,}000``, ``x = 5``, ``12 \\text{ cm}``, ``(113)``),
    else None. Unlike :func:`exact_number`, a fraction (``\\frac{8}{2}``, ``8/2``) or a decimal with a
    non-zero fractional part is not an integer literal, even when its value is whole."""
    t = _number_text(s)
    m = _DECIMAL.match(t)
    if not m:
        return None
    sign, whole, frac = m.groups()
    whole = whole.replace(",", "").replace(" ", "")
    if not whole or (frac and frac.strip("0")):
        return None
    return -int(whole) if sign == "-" else int(whole)


def balanced(s: str) -> bool:
    """Braces close in order (escaped ``\\{`` ignored) -- a gold failing this is malformed."""
    depth, i, n = 0, 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        depth += (c == "{") - (c == "}")
        if depth < 0:
            return False
        i += 1
    return depth == 0


def too_complex(s: str, max_tower: int = 3, max_exponent_digits: int = 6) -> bool:
    """Cheap guard before sympy: exponent towers (``9^{9^{9^{9}}}``) and huge exponents or factorials.

    The worker's hard deadline bounds everything anyway; this only spares a kill-and-respawn.
    """
    stack: list[bool] = []
    exp_depth, pending, i, n = 0, False, 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            pending = False
            i += 2
            continue
        if c == "^":
            if exp_depth + 1 >= max_tower:
                return True
            pending = True
            j = i + 1
            while j < n and s[j] in " {":
                j += 1
            k = j
            while k < n and s[k].isdigit():
                k += 1
            if k - j > max_exponent_digits:
                return True
        elif c == "{":
            stack.append(pending)
            exp_depth += pending
            pending = False
        elif c == "}":
            if stack:
                exp_depth -= stack.pop()
        elif c == "!" and i >= 5 and s[i - 5 : i].isdigit():
            return True  # factorial of a 5+ digit number
        elif not c.isspace():
            pending = False
        i += 1
    return False


# Tokens math-verify's LaTeX parser always reads. No `e`/`E` (Euler's number: math-verify cannot
# parse `E_1`), no bare words, no other commands: golds outside this are checked by math-verify.
_SIMPLE_TOKEN = re.compile(
    r"\\(?:frac|sqrt|pi|infty|cdot|times|pm|leq|geq|le|ge|neq|circ|sin|cos|tan|cot|sec|csc|log|ln|cup|cap|in)"
    r"(?![a-zA-Z])|\\text\{[A-Za-z ]*\}|\\text\{\([A-Z]\)\}|\\(?:begin|end)\{[pb]matrix\}|\\\\"
    r"|\\[{}%]|[0-9.,+\-*/=()\[\]{}<>^_ %!&]|[a-df-zA-DF-Z](?![a-zA-Z])"
)


def simple_latex(s: str) -> bool:
    """True for a canonical answer made only of tokens math-verify is known to parse.

    Lets a plain gold such as ``\\frac{\\sqrt{3}}{2}`` or ``(-\\infty, 3]`` skip the
    "can math-verify parse this gold?" check; the tests hold this to account on every gold file.
    """
    if not s or not any(c.isalnum() for c in s) or not balanced(s):
        return False
    pos, n, match = 0, len(s), _SIMPLE_TOKEN.match
    while pos < n:  # one token at a time: no backtracking across tokens, linear overall
        m = match(s, pos)
        if m is None:
            return False
        pos = m.end()
        if pos - m.start() == 1 and s[m.start()].isalpha() and s[pos : pos + 1] in ("(", "["):
            return False  # `f(x)`, `t(0,4]`: function notation is math-verify's call
    return True
