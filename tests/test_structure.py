"""The shape of the package: the layering between its subpackages, no import cycle between its
modules (lazy imports inside functions count too), every module says what it is for, and the
library prints nothing (ruff's T20 rule)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from benchkit.import_graph import imports_of, modules

PKG = Path(__file__).resolve().parents[1] / "src" / "mathgrpo"


def module_names() -> dict[str, Path]:
    return modules(PKG)  # PKG read at call time: the can-fail tests point it at a copy


# (importer, what it may not import, why). A subpackage is named by its dotted prefix; "mathgrpo."
# alone means any other module of the package. docs/design.md states the same rules.
LAYERS = [
    ("mathgrpo.grading", ("mathgrpo.",), "grading is pure: the training reward and eval share it unchanged"),
    ("mathgrpo.data", ("mathgrpo.train", "mathgrpo.evaluation", "mathgrpo.report"), "data feeds the rest"),
    ("mathgrpo.evaluation", ("mathgrpo.train", "mathgrpo.report"), "eval runs without training code"),
    ("mathgrpo.report", ("mathgrpo.train",), "a report reads what a run wrote to disk"),
    ("mathgrpo.errors", ("mathgrpo.",), "the base every layer imports"),
    ("mathgrpo.files", ("mathgrpo.data", "mathgrpo.train", "mathgrpo.evaluation", "mathgrpo.report"), "base"),
    ("mathgrpo.models", ("mathgrpo.data", "mathgrpo.train", "mathgrpo.evaluation", "mathgrpo.report"), "base"),
]


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_violations() -> list[str]:
    known = module_names()
    found = []
    for name, path in sorted(known.items()):
        for importer, forbidden, why in LAYERS:
            if not _within(name, importer):
                continue
            for target in sorted(imports_of(path, known)):
                if _within(target, importer) or target == "mathgrpo":
                    continue
                if any(_within(target, f.rstrip(".")) if f != "mathgrpo." else True for f in forbidden):
                    found.append(f"{name} imports {target} ({why})")
    return found


def test_layers_hold():
    assert not layer_violations(), "layering broken:\n" + "\n".join(layer_violations())


@pytest.mark.parametrize(
    "importer, imported",
    [
        ("grading/extract.py", "mathgrpo.errors"),
        ("data/clean.py", "mathgrpo.train.run"),
        ("data/clean.py", "mathgrpo.evaluation.metrics"),
        ("evaluation/evaluate.py", "mathgrpo.train.config"),
        ("report/card.py", "mathgrpo.train.record"),
        ("errors.py", "mathgrpo.files"),
        ("models.py", "mathgrpo.data.sources"),
    ],
)
def test_each_layer_rule_can_fail(tmp_path, monkeypatch, importer, imported):
    """A copy of the package with one forbidden import added, lazily (inside a function)."""
    import shutil

    copy = tmp_path / "mathgrpo"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / importer
    target.write_text(target.read_text() + f"\n\ndef _sneak():\n    import {imported}  # noqa\n")
    monkeypatch.setattr(__import__(__name__), "PKG", copy)
    assert any(
        v.startswith(importer.removesuffix(".py").replace("/", ".").join(["mathgrpo.", ""])) for v in layer_violations()
    ), f"{importer} importing {imported} was not caught"


def test_no_import_cycle_between_modules():
    known = module_names()
    graph = {name: imports_of(path, known) - {name} for name, path in known.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_can_fail(tmp_path, monkeypatch):
    (tmp_path / "mathgrpo").mkdir()
    (tmp_path / "mathgrpo" / "__init__.py").write_text("")
    (tmp_path / "mathgrpo" / "a.py").write_text("def f():\n    from mathgrpo import b\n")
    (tmp_path / "mathgrpo" / "b.py").write_text("import mathgrpo.a\n")
    monkeypatch.setattr(__import__(__name__), "PKG", tmp_path / "mathgrpo")
    try:
        test_no_import_cycle_between_modules()
    except AssertionError as err:
        assert "mathgrpo.a -> mathgrpo.b -> mathgrpo.a" in str(err)
    else:
        raise AssertionError("a lazy a <-> b cycle was not found")


def test_every_module_opens_with_a_docstring_and_a_usage_line():
    for path in PKG.rglob("*.py"):
        doc = ast.get_docstring(ast.parse(path.read_text()))
        if path.name == "__init__.py" and path.parent != PKG:
            continue
        assert doc and "Usage" in doc, f"{path.relative_to(PKG)} has no docstring with a usage line"


def test_ci_runs_exactly_the_readme_test_command():
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "pytest" in line and line.startswith("pip install"))
    ci = [line.split("#")[0].strip() for line in (root / ".ci" / "run").read_text().splitlines()]
    steps = [line.removeprefix("python3 -m ") for line in ci if line.startswith("python3")]
    readme_steps = [part.strip().removeprefix("python3 -m ") for part in command.split("&&")]
    ci_steps = [part.strip().removeprefix("python3 -m ") for step in steps for part in step.split("&&")]
    # .ci/run adds pip's quiet flag; everything else is the README's command, in order.
    assert [s.replace(" -q", "", 1) if s.startswith("pip") else s for s in ci_steps] == readme_steps


def test_docs_hold_no_paths_of_one_machine():
    """Commands in the docs run from any checkout: paths are relative to the repository."""
    root = Path(__file__).resolve().parent.parent
    home = str(Path.home())
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = path.read_text()
        for marker in (str(root), str(root.parent), home + "/", "/work/"):
            assert marker not in text, f"{path.relative_to(root)} names {marker!r}: use a path relative to the repo"
