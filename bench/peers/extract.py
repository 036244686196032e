"""Extract the labeled grading cases from public graders' own test files, one JSONL file per suite.

Usage: python bench/peers/extract.py --out DIR REPO_GIT_DIR [REPO_GIT_DIR ...]

Each REPO_GIT_DIR is a git directory (a bare mirror, or a checkout's ``.git``) whose folder is named
``owner+name`` or whose origin URL names the repository. The files are read with ``git show
HEAD:path``, so the commit read is the one named in every case. The suites, the files read and how
each test presents its cases are in ``SUITES`` below. Nothing is executed: the test files are parsed
(``ast``) and their literal values followed through assignments, parametrize tables and asserts. A case records:

  id          suite + a hash of (gold, pred, options): stable across runs and re-extractions
  suite, repo, commit, licence, sources ("path:line" of each literal that states it), test (function)
  gold, pred  as the test passes them (a pred may be a whole text, a bare answer or a number)
  expected    the verdict the test asserts (true/false), or null where the peer's file states none
  reading     how the peer reads the prediction: "text" (math-verify's extraction: the box, else
              the answer the text states), "boxed" (the last box), "answer" (already extracted)
  options     the peer's grading options the test passes that differ from its defaults
  multiple_choice  true for lettered-choice extraction (out of scope, counted apart)

Cases identical in (gold, pred, options, expected) within a suite are written once, with every
source listed. The files are written to --out (default: ./peer-cases, which .gitignore excludes):
the workplace commits nothing that comes from these repositories, the extracted data included.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# bench/peers holds scripts, not a package: its sibling module is found beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from read_tests import FileExtractor, signature  # noqa: E402


@dataclass
class Suite:
    name: str
    repo: str  # owner/name on GitHub
    licence: str  # checked by reading the repository's licence file at the commit read
    licence_file: str
    files: tuple[str, ...]
    reading: str
    helpers: dict = field(default_factory=dict)  # a test helper's name -> the file that defines it


SUITES = {
    "huggingface/Math-Verify": Suite(
        "math-verify",
        "huggingface/Math-Verify",
        "Apache-2.0",
        "LICENCE",
        (
            "tests/test_all.py",
            "tests/test_boxed.py",
            "tests/test_numina_cases.py",
            "tests/test_open_thoughts.py",
            "tests/test_strict.py",
            "tests/test_yujianll.py",
        ),
        "text",
        {"compare_strings": "tests/test_all.py"},
    ),
    "huggingface/lighteval": Suite(
        "lighteval",
        "huggingface/lighteval",
        "MIT",
        "LICENSE",
        ("tests/unit/metrics/test_extractive_match.py",),
        "text",
        {"compare_strings": "tests/unit/metrics/test_extractive_match.py"},
    ),
    "QwenLM/Qwen2.5-Math": Suite(
        "qwen25-math", "QwenLM/Qwen2.5-Math", "MIT", "evaluation/LICENSE", ("evaluation/grader.py",), "answer"
    ),
    "NVIDIA/NeMo-Skills": Suite(
        "nemo-skills", "NVIDIA/NeMo-Skills", "Apache-2.0", "LICENSE", ("tests/test_math_equal.py",), "answer"
    ),
    "hendrycks/math": Suite(
        "hendrycks-math", "hendrycks/math", "MIT", "LICENSE", ("modeling/math_equivalence_test.py",), "answer"
    ),
    "huggingface/open-r1": Suite(
        "open-r1", "huggingface/open-r1", "Apache-2.0", "LICENSE", ("tests/test_rewards.py",), "text"
    ),
    # agentica-project/rllm moved to rllm-org/rllm; the older snapshot has no math reward tests.
    "rllm-org/rllm": Suite(
        "rllm", "rllm-org/rllm", "Apache-2.0", "LICENSE", ("tests/rewards/test_math_reward.py",), "boxed"
    ),
}
# Moved repositories: the old name's newest snapshot predates the tests read here.
MOVED = {"agentica-project/rllm": "rllm-org/rllm"}


def git_show(git_dir: Path, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
    ).stdout


def remote_name(git_dir: Path) -> str | None:
    """owner/name from the mirror's folder name (owner+name) or its remote URL."""
    for part in (git_dir.name, git_dir.parent.name):
        if "+" in part:
            owner, name = part.split("+", 1)
            return f"{owner}/{name}"
    url = subprocess.run(
        ["git", "--git-dir", str(git_dir), "config", "--get", "remote.origin.url"], capture_output=True, text=True
    ).stdout.strip()
    if url:
        tail = url.removesuffix(".git").replace(":", "/").split("/")
        return f"{tail[-2]}/{tail[-1]}"
    return None


def helper_signatures(git_dir: Path, suite: Suite) -> dict:
    sigs = {}
    for name, path in suite.helpers.items():
        found = signature(git_show(git_dir, path), name)
        if found is not None:
            sigs[name] = found
    return sigs


def case_id(case: dict) -> str:
    key = json.dumps([case["gold"], case["pred"], case["options"]], sort_keys=True, ensure_ascii=False)
    return f"{case['suite']}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def extract(git_dir: Path) -> tuple[Suite, str, list[dict], list[str]]:
    name = remote_name(git_dir)
    if name in MOVED:
        raise SystemExit(f"{git_dir}: {name} moved to {MOVED[name]}; give that repository's git directory instead")
    if name not in SUITES:
        raise SystemExit(f"{git_dir}: repository {name!r} is not one of the known peers ({', '.join(SUITES)})")
    suite = SUITES[name]
    commit = subprocess.run(
        ["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:  # the licence named in SUITES was read from this file; a commit without it is not extracted
        git_show(git_dir, suite.licence_file)
    except subprocess.CalledProcessError:
        raise SystemExit(f"{git_dir}: no {suite.licence_file} at {commit[:12]}: check the licence before extracting")
    sigs = helper_signatures(git_dir, suite)
    cases, skipped = [], []
    for path in suite.files:
        try:
            source = git_show(git_dir, path)
        except subprocess.CalledProcessError:
            skipped.append(f"{path}: not in {suite.repo}@{commit[:12]}")
            continue
        fx = FileExtractor(suite, path, source, sigs)
        fx.run()
        cases += fx.cases
        skipped += fx.skipped
    merged: dict[tuple, dict] = {}
    for case in cases:
        case["id"] = case_id(case)
        key = (case["id"], case["expected"])
        if key in merged:
            merged[key]["sources"].append(case["source"])
            continue
        case.update(repo=suite.repo, commit=commit, licence=suite.licence, sources=[case.pop("source")])
        merged[key] = case
    return suite, commit, list(merged.values()), skipped


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("git_dirs", nargs="+", type=Path, help="git directories of the peers (bare mirrors)")
    parser.add_argument("--out", type=Path, default=Path("peer-cases"), help="folder for the JSONL files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for git_dir in args.git_dirs:
        suite, commit, cases, skipped = extract(git_dir)
        conflicting = {c["id"] for c in cases if sum(d["id"] == c["id"] for d in cases) > 1}
        path = args.out / f"{suite.name}.jsonl"
        with path.open("w") as f:
            for case in sorted(cases, key=lambda c: (c["sources"][0], c["id"])):
                f.write(json.dumps(case, ensure_ascii=False) + "\n")
        labeled = sum(c["expected"] is not None for c in cases)
        print(f"{suite.name}: {len(cases)} cases ({labeled} labeled) from {suite.repo}@{commit[:12]} -> {path}")
        for c in sorted(conflicting):
            print(f"  note: {c} is asserted both true and false (different tests)")
        for s in skipped:
            print(f"  skipped {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
