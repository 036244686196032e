"""How bench/peers/extract.py reads a peer's test file: literal values followed through a test.

Nothing is executed. A test function's parametrize rows, literal assignments and asserts are
walked in source order; a call to one of the peers' grading functions (``GRADERS``) becomes a
pending ``Call`` and the assert about it gives its expected verdict.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

# The calls that grade, and which of their arguments are the gold and the prediction.
GRADERS = {"compare_strings", "verify", "math_equal", "is_equiv", "accuracy_reward", "reward"}
# Options each peer's test helper passes with these defaults; a case records only the others.
DEFAULT_OPTIONS = {
    "match_types": ["latex", "expr"],
    "precision": 6,
    "strict": True,
    "allow_set_relation_comp": False,
    "language": "Language.ENGLISH",
}


MATH_FUNCTIONS = {"sqrt", "exp", "log", "sin", "cos", "tan", "pi"}


class Unknown(Exception):
    """A value the extractor cannot follow statically (the case is skipped, and counted)."""


@dataclass
class Call:
    """One grading call found in a test, waiting for the assert that gives its verdict."""

    gold: object
    pred: object
    options: dict
    line: int
    index: object = None  # for list-valued rewards: which element an assert reads


class Evaluator:
    """Follows literal values through a test function: constants, containers, names, simple ops."""

    def __init__(self, env: dict):
        self.env = env

    def value(self, node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            return {self.value(k): self.value(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            raise Unknown(node.id)
        if isinstance(node, ast.Attribute):  # RewardType.MATH, Language.FRENCH: kept as their names
            return ast.unparse(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.value(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = self.value(node.left), self.value(node.right)
            ops = {ast.Add: lambda a, b: a + b, ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}
            if type(node.op) in ops:
                return ops[type(node.op)](left, right)
        if isinstance(node, ast.Subscript):
            return self.value(node.value)[self.value(node.slice)]
        if isinstance(node, ast.JoinedStr):  # f"{math.sqrt(17):.15f}": a value the test computes
            parts = []
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    spec = self.value(part.format_spec) if part.format_spec else ""
                    parts.append(format(self.value(part.value), spec))
                else:
                    parts.append(part.value)
            return "".join(parts)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords:
            if ast.unparse(node.func.value) == "math" and node.func.attr in MATH_FUNCTIONS:
                return getattr(math, node.func.attr)(*(self.value(a) for a in node.args))
        raise Unknown(ast.unparse(node))


def statements(body):
    """The statements of a function in source order, those of nested blocks included."""
    for stmt in body:
        yield stmt
        for attr in ("body", "orelse", "finalbody"):
            if not isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
                yield from statements(getattr(stmt, attr, []) or [])


def call_name(node) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    return None


class FileExtractor:
    def __init__(self, suite, path: str, source: str, helper_sigs: dict):
        """``suite``: its ``name`` and ``reading`` label the cases; ``helper_sigs``: a test helper's
        (parameters, defaults), to bind its calls' arguments."""
        self.suite, self.path, self.source_text, self.tree = suite, path, source, ast.parse(source)
        self.helper_sigs = helper_sigs
        self.cases: list[dict] = []
        self.skipped: list[str] = []

    # -- grading calls ------------------------------------------------------------------------
    def grading_call(self, node: ast.Call, ev: Evaluator) -> Call | None:
        name = call_name(node)
        if name not in GRADERS:
            return None
        if name == "compare_strings":
            params, defaults = self.helper_sigs["compare_strings"]
            bound = dict(defaults)
            for p, a in zip(params, node.args):
                bound[p] = ev.value(a)
            for kw in node.keywords:
                bound[kw.arg] = ev.value(kw.value)
            gold, pred = bound.pop("gold"), bound.pop("pred")
            options = {k: v for k, v in bound.items() if DEFAULT_OPTIONS.get(k) != v}
            return Call(gold, pred, options, node.lineno)
        if name == "verify":  # verify(parse(gold), parse(pred)): math-verify's defaults throughout
            args = [a.args[0] if call_name(a) == "parse" and len(a.args) == 1 else None for a in node.args[:2]]
            if None in args or node.keywords:
                raise Unknown(ast.unparse(node))
            return Call(ev.value(args[0]), ev.value(args[1]), {}, node.lineno)
        if name in ("math_equal", "is_equiv"):
            options = {kw.arg: ev.value(kw.value) for kw in node.keywords}
            return Call(ev.value(node.args[0]), ev.value(node.args[1]), options, node.lineno)
        if name == "accuracy_reward":  # open-r1: (completions, solutions), one reward per element
            completions, solutions = ev.value(node.args[0]), ev.value(node.args[1])
            return Call(solutions, [c[0]["content"] for c in completions], {}, node.lineno)
        if name == "reward" and len(node.args) == 2:  # rllm: reward(task_info, model_response)
            info, response = ev.value(node.args[0]), ev.value(node.args[1])
            if info.get("problem_type") != "RewardType.MATH":
                self.skipped.append(f"{self.path}:{node.lineno} not a math problem")
                return None
            return Call(info.get("ground_truth"), response, {}, node.lineno)
        return None

    def verdict(self, node, ev: Evaluator, pending: dict) -> tuple[Call, bool] | None:
        """(call, expected) from an asserted expression, or None when it is not about a verdict."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.verdict(node.operand, ev, pending)
            return (inner[0], not inner[1]) if inner else None
        if isinstance(node, ast.Call) and call_name(node) == "int" and node.args:
            return self.verdict(node.args[0], ev, pending)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left = self.verdict(node.left, ev, pending)
            if left is None:
                return None
            want = ev.value(node.comparators[0])
            if isinstance(node.ops[0], (ast.Eq, ast.Is)):
                return left[0], bool(want) == left[1]
            if isinstance(node.ops[0], (ast.NotEq, ast.IsNot)):
                return left[0], bool(want) != left[1]
            return None
        if isinstance(node, ast.Attribute) and node.attr == "is_correct":
            return self.verdict(node.value, ev, pending)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in pending:
            call = pending[node.value.id]
            return Call(call.gold, call.pred, call.options, call.line, ev.value(node.slice)), True
        if isinstance(node, ast.Name) and node.id in pending:
            return pending[node.id], True
        call = self.grading_call(node, ev) if isinstance(node, ast.Call) else None
        return (call, True) if call else None

    # -- walking tests ------------------------------------------------------------------------
    def run(self) -> None:
        for node in self.tree.body:
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                        self.function(item)
            elif isinstance(node, ast.FunctionDef) and node.name.startswith(("test", "_test_math_equal")):
                self.function(node)

    def function(self, fn: ast.FunctionDef) -> None:
        if any("skip" in ast.unparse(d) for d in fn.decorator_list):
            self.skipped.append(f"{self.path}:{fn.lineno} {fn.name} is skipped by the peer")
            return
        if fn.name == "_test_math_equal":
            self.unlabeled_comments(fn)
            return
        rows = self.parametrize_rows(fn)
        for env, line in rows or [({}, None)]:
            try:
                self.body(fn, env, line)
            except (Unknown, KeyError, TypeError, IndexError) as e:
                self.skipped.append(f"{self.path}:{line or fn.lineno} {fn.name}: cannot follow {e}")

    def parametrize_rows(self, fn: ast.FunctionDef) -> list[tuple[dict, int]]:
        rows = []
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Call) and ast.unparse(dec.func).endswith("parametrize")):
                continue
            names = [n.strip() for n in ast.literal_eval(dec.args[0]).split(",")]
            for elt in dec.args[1].elts:
                values = Evaluator({}).value(elt)
                if len(names) == 1:
                    values = [values]
                rows.append((dict(zip(names, values)), elt.lineno))
        return rows

    def body(self, fn: ast.FunctionDef, env: dict, line: int | None) -> None:
        ev, pending = Evaluator(dict(env)), {}
        for stmt in statements(fn.body):
            try:
                self.statement(stmt, ev, pending, fn, line)
            except (Unknown, KeyError, TypeError, IndexError, AttributeError) as e:
                self.skipped.append(f"{self.path}:{stmt.lineno} {fn.name}: cannot follow {e}")

    def statement(self, stmt, ev: Evaluator, pending: dict, fn, line) -> None:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target = stmt.targets[0].id
            call = self.grading_call(stmt.value, ev) if isinstance(stmt.value, ast.Call) else None
            if call is not None:
                pending[target] = call
            else:
                try:
                    ev.env[target] = ev.value(stmt.value)
                except Unknown:
                    ev.env.pop(target, None)
        elif isinstance(stmt, ast.Assert):
            self.record(self.verdict(stmt.test, ev, pending), fn, line or stmt.lineno)
        elif isinstance(stmt, ast.Expr) and call_name(stmt.value) in ("assertTrue", "assertFalse", "assertEqual"):
            self.unittest_assert(stmt.value, ev, pending, fn, line)

    def unittest_assert(self, node: ast.Call, ev: Evaluator, pending: dict, fn, line) -> None:
        name = call_name(node)
        found = self.verdict(node.args[0], ev, pending)
        if found is None:
            return
        call, truth = found
        if name == "assertFalse":
            truth = not truth
        elif name == "assertEqual":
            want = ev.value(node.args[1])
            if want not in (0, 1, 0.0, 1.0, True, False):
                return
            truth = bool(want) == truth
        self.record((call, truth), fn, line or node.lineno)

    def record(self, found, fn, line: int) -> None:
        if found is None:
            return
        call, expected = found
        gold, pred = call.gold, call.pred
        if call.index is not None:  # one element of a list-valued reward
            gold, pred = gold[call.index], pred[call.index]
        self.add(gold, pred, expected, call.options, fn.name, line)

    def add(self, gold, pred, expected, options, test, line) -> None:
        mc = options.get("match_types") == ["NativeLetters"]
        self.cases.append(
            {
                "suite": self.suite.name,
                "gold": gold,
                "pred": pred,
                "expected": expected,
                "reading": self.suite.reading,
                "options": options,
                "multiple_choice": mc,
                "test": test,
                "source": f"{self.path}:{line}",
            }
        )

    def unlabeled_comments(self, fn: ast.FunctionDef) -> None:
        """Qwen2.5-Math's grader keeps its cases as commented-out prints: pairs without a verdict."""
        text = ast.get_source_segment(self.source_text, fn) or ""
        start = fn.lineno
        pending: dict[str, tuple[str, int]] = {}
        for offset, raw in enumerate(text.splitlines()):
            line = raw.strip().lstrip("#").strip()
            if line.startswith("print(math_equal("):
                try:
                    call = ast.parse(line).body[0].value.args[0]
                    a, b = (ast.literal_eval(x) for x in call.args[:2])
                except (SyntaxError, ValueError, IndexError, AttributeError):
                    continue
                if isinstance(a, str) and isinstance(b, str):  # math_equal(prediction, reference)
                    self.add(b, a, None, {}, fn.name, start + offset)
                continue
            for part in line.split(", "):
                key, _, val = part.partition("=")
                key = key.strip()
                if key in ("pred", "gt") and val.strip()[:1] in "'\"":
                    try:
                        pending[key] = (ast.literal_eval(val.strip()), start + offset)
                    except (SyntaxError, ValueError):
                        continue
            if "pred" in pending and "gt" in pending:
                self.add(pending["gt"][0], pending["pred"][0], None, {}, fn.name, pending["pred"][1])
                pending.clear()


def signature(source: str, name: str) -> tuple[list[str], dict] | None:
    """The parameters and literal defaults of the function ``name`` defined in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            params = [a.arg for a in node.args.args]
            defaults = dict(zip(params[len(params) - len(node.args.defaults) :], node.args.defaults))
            return params, {k: Evaluator({}).value(v) for k, v in defaults.items()}
    return None
