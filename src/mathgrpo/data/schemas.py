"""The published dataset schemas we read, one small definition each, and the gold rules.

Usage: ``schema = find_schema(columns)``; ``first, more, rule = read_golds(text_array, worked=False)``

A :class:`Schema` names where a dataset keeps its problem and its gold (dotted paths reach into
structs: ``reward_model.ground_truth``; ``0.value`` into the turns of a row stored as a list),
as lighteval defines one benchmark: the next dataset is one more entry in :data:`SCHEMAS`.
The gold is then read from the *values*, never from the column's name alone (:func:`read_golds`):

==================  ==================================================================
rule                what becomes the gold
==================  ==================================================================
``answer``          the field as it is (numbers written out; a lone ``\\boxed{x}`` is x)
``boxed``           the last ``\\boxed{}`` of a worked solution (rows without one: no gold)
``gsm8k_marker``    GSM8K's number after ``####``, thousands separators removed
``json_list``       a JSON-encoded list of strings (Skywork-OR1), or mathgrpo's own ``answers``
                    column: every item is a gold
``joined_list``     a list column (OlympiadBench's parts of one answer), joined with ", "
==================  ==================================================================

A column is read as worked solutions (rule ``boxed``) when at least half of its first values
hold a ``\\boxed{}``; otherwise it holds bare answers -- so ``solution`` is a worked solution in
MATH and NuminaMath-CoT and a bare answer in trl-lib/DeepMath-103K, read right in both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from mathgrpo.errors import UserError


@dataclass(frozen=True)
class Schema:
    """One published layout: its problem field, its gold field, and who publishes it."""

    name: str
    problem: str  # text, or chat turns (role/content or from/value) with one user turn
    answer: str
    datasets: str  # for the README table and the summary line


# First match wins, so the more specific layouts come first. An explicit --problem_field /
# --answer_field overrides the schema's field.
SCHEMAS = (
    Schema("mathgrpo", "problem", "answers", "mathgrpo prepare-data output with several golds (`answers`)"),
    Schema(
        "verl",
        "prompt",
        "reward_model.ground_truth",
        "DAPO-Math-17k, Skywork-OR1, verl's GSM8K/MATH parquet, DeepScaleR (verl)",
    ),
    Schema("open-reasoner-zero", "0.value", "1.ground_truth.value", "Open-Reasoner-Zero training JSON"),
    Schema("open-reasoner-zero-eval", "prompt", "final_answer", "Open-Reasoner-Zero eval JSON (aime2024.json...)"),
    Schema(
        "answer",
        "problem",
        "answer",
        "NuminaMath-1.5, OpenR1-Math-220k, DeepScaleR-Preview, Big-Math-RL-Verified, MATH-500",
    ),
    Schema("gsm8k", "question", "answer", "GSM8K (openai/gsm8k)"),
    Schema("final_answer", "question", "final_answer", "zwhe99/DeepMath-103K"),
    Schema(
        "solution",
        "problem",
        "solution",
        "MATH, MATH-lighteval, NuminaMath-CoT/-TIR (worked); open-r1/Big-Math-RL-Verified-Processed (bare)",
    ),
    Schema("trl-conversational", "prompt", "solution", "TRL's conversational format: trl-lib/DeepMath-103K"),
)
# Fallback detection for layouts no schema names (first present wins).
PROBLEM_FIELDS = ("problem", "question", "prompt", "query")
ANSWER_FIELDS = ("answer", "final_answer", "ground_truth", "gold", "target", "solution")
# Golds that are no answer: NuminaMath-1.5 marks proofs and unsolved problems with them. They are
# dropped and counted (math-verify would accept `\boxed{proof}`, even `\boxed{roofp}`, for them).
PLACEHOLDER_GOLDS = ("proof", "notfound")
RULES = {
    "answer": "answer field",
    "boxed": "last \\boxed{} of a worked solution",
    "gsm8k_marker": "GSM8K #### number",
    "json_list": "list of golds (JSON-encoded, or mathgrpo's answers column)",
    "joined_list": "list joined",
}


def has_path(schema_or_keys, path: str) -> bool:
    """Whether a dotted ``path`` exists in an arrow schema (or, for JSON, a set of keys)."""
    head, _, rest = path.partition(".")
    if isinstance(schema_or_keys, pa.Schema):
        if head not in schema_or_keys.names:
            return False
        typ = schema_or_keys.field(head).type
        for part in rest.split(".") if rest else []:
            if not pa.types.is_struct(typ) or typ.get_field_index(part) < 0:
                return False
            typ = typ.field(part).type
        return True
    return head in schema_or_keys  # JSON rows: nested keys are resolved (or missing) per row


def find_schema(columns) -> Schema | None:
    """The first schema whose problem and answer fields are both present."""
    return next((s for s in SCHEMAS if has_path(columns, s.problem) and has_path(columns, s.answer)), None)


def choose_fields(name: str, columns, problem_field: str | None, answer_field: str | None) -> tuple[str, str, str]:
    """(problem field, answer field, schema name): explicit names win, else a schema, else common names."""
    names = list(columns.names) if isinstance(columns, pa.Schema) else sorted(columns)
    listed = ", ".join(names) or "none"
    schema = find_schema(columns)
    label = schema.name if schema else "fields"
    if problem_field is None:
        problem_field = schema.problem if schema else next((f for f in PROBLEM_FIELDS if has_path(columns, f)), None)
        if problem_field is None:
            raise UserError(
                f"{name}: no problem column found (columns: {listed}); set the problem column with --problem_field NAME"
            )
    elif not has_path(columns, problem_field):
        raise UserError(f"{name}: no field {problem_field!r} for the problem (columns: {listed})")
    else:
        label = "fields"
    if answer_field is None:
        answer_field = schema.answer if schema else None
        answer_field = answer_field or next((f for f in ANSWER_FIELDS if has_path(columns, f)), None)
        if answer_field is None:
            raise UserError(
                f"{name}: no answer column found (columns: {listed}); set the answer column with --answer_field NAME"
            )
    elif not has_path(columns, answer_field):
        raise UserError(f"{name}: no field {answer_field!r} for the answer (columns: {listed})")
    else:
        label = "fields"
    return problem_field, answer_field, label


# --------------------------------------------------------------------------- gold rules

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def gsm8k_gold(text: str) -> str | None:
    """GSM8K's gold: what follows the last ``####``, thousands separators removed (``1,234`` -> ``1234``)."""
    tail = text.rsplit("####", 1)[-1].strip()
    return _THOUSANDS.sub("", tail) or None


def json_golds(text: str) -> list[str] | None:
    """A JSON-encoded list of strings (Skywork-OR1's ``'["9"]'``), else None. Only lists of *strings*
    qualify: ``[1, 2]`` is an interval gold, not two golds."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def looks_worked(text: pa.Array) -> bool:
    """Whether a column holds worked solutions: at least half of its non-empty values have a box."""
    filled = pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0), False)
    n = pc.sum(filled).as_py() or 0
    boxed = pc.sum(pc.fill_null(pc.match_substring(text, "\\boxed"), False)).as_py() or 0
    return n > 0 and 2 * boxed >= n


def read_golds(text: pa.Array, worked: bool) -> tuple[pa.Array, list | None, pa.Array]:
    """(first gold per row, the other golds per row or None when no row has several, rule per row).

    The rule of each row comes from its value: a JSON list of strings, a GSM8K ``####`` number, a
    ``\\boxed{}``, else the value as it is -- or, in a column of worked solutions, no gold."""
    from mathgrpo.grading import extract_boxed

    text = text.cast(pa.string())
    n = len(text)
    trimmed = pc.utf8_trim_whitespace(text)
    is_json = pc.fill_null(pc.and_(pc.starts_with(trimmed, '["'), pc.ends_with(trimmed, "]")), False)
    is_gsm = pc.fill_null(pc.match_substring(text, "####"), False)
    is_box = pc.fill_null(pc.match_substring(text, "\\boxed"), False)
    special = pc.or_(pc.or_(is_json, is_gsm), is_box)
    if not worked and not pc.any(special).as_py():
        return text, None, pa.repeat(pa.scalar("answer"), n)  # the common case (DAPO, bare answers)
    rule = pc.if_else(is_gsm, "gsm8k_marker", pc.if_else(is_box, "boxed", "answer"))
    values = text.to_pylist()
    rules = rule.to_pylist()
    first: list[str | None] = [None if worked else v for v in values]
    more: list[list[str]] = [[] for _ in range(n)]
    json_rows = set(pc.indices_nonzero(is_json).to_pylist())
    for i in pc.indices_nonzero(special).to_pylist():
        v = values[i]
        golds = json_golds(v.strip()) if i in json_rows else None
        if golds is not None:
            first[i], more[i], rules[i] = golds[0], golds[1:], "json_list"
        elif rules[i] == "gsm8k_marker":
            first[i] = gsm8k_gold(v)
        elif rules[i] == "boxed":
            first[i] = extract_boxed(v)
    if worked:
        rules = ["boxed" if r == "answer" else r for r in rules]
    return pa.array(first, pa.string()), (more if any(more) else None), pa.array(rules, pa.string())
