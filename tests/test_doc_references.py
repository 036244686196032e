"""Every test name and repository path that README.md and docs/ cite exists (a renamed test or a moved
file otherwise leaves a sentence pointing at nothing)."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# A cited path starts at one of the repository's top-level folders (or is a root file) and names a file
# or folder; globs (`drgrpo*.yaml`), placeholders (`RUN_DIR/...`) and output paths (`output/...`) are not files.
PATH = re.compile(r"(?<![\w./-])((?:src|tests|bench|recipes|docs|\.ci)/[\w./{},*-]*[\w/}*])")
# Package-relative module paths (`train/run.py`) name files under src/mathgrpo/.
MODULE = re.compile(r"(?<![\w./-])((?:grading|data|evaluation|report|train)/\w+\.py)\b")
TEST = re.compile(r"\b(test_\w+)\b")
# Another repository's file, cited as ``Repo:path`` (the peers' test files in docs/evaluation.md): not ours.
FOREIGN = re.compile(r"[\w.-]+:[\w./-]+")


def cited_paths(text: str) -> set[str]:
    text = FOREIGN.sub("", text)
    found = set()
    for path in PATH.findall(text):
        if any(c in path for c in "*{}") or path.startswith(("docs/learning-", "bench/device/out")):
            continue  # a glob or a brace list, or a file a bench run writes
        found.add(path.rstrip("/."))
    found.update(f"src/mathgrpo/{module}" for module in MODULE.findall(text))
    return found


def all_test_names() -> set[str]:
    names = set()
    for file in (REPO / "tests").glob("*.py"):
        names.add(file.stem)
        names.update(re.findall(r"^\s*(?:async\s+)?def (test_\w+)", file.read_text(encoding="utf-8"), re.M))
    return names


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_cited_path_exists(page):
    missing = sorted(p for p in cited_paths(page.read_text(encoding="utf-8")) if not (REPO / p).exists())
    assert not missing, f"{page.name} cites paths that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_cited_test_exists(page):
    known = all_test_names()
    cited = {name for name in TEST.findall(FOREIGN.sub("", page.read_text(encoding="utf-8"))) if name != "test_"}
    missing = sorted(name.removesuffix(".py") for name in cited if name.removesuffix(".py") not in known)
    assert not missing, f"{page.name} cites tests that do not exist: {missing}"


def test_the_checks_can_fail(tmp_path):
    text = "see `tests/test_no_such_file.py`, `src/mathgrpo/nowhere.py`, `train/gone.py`; test_no_such_test proves it"
    assert {"tests/test_no_such_file.py", "src/mathgrpo/nowhere.py", "src/mathgrpo/train/gone.py"} <= cited_paths(text)
    assert "test_no_such_test" in set(TEST.findall(text)) - all_test_names()
    assert cited_paths("the peer's `Math-Verify:tests/test_all.py`") == set()  # another repository's file
