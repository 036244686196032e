"""Agreement of mathgrpo's grader with the published graders' own test tables.

Usage: python bench/agreement_peers.py [--cases DIR] [--json OUT.json] [--markdown OUT.md] [--suite NAME ...]

The cases are the labeled (gold, prediction, expected verdict) rows that bench/peers/extract.py
takes from seven peers' test files. They are not in this repository (nothing taken from those
repositories is committed): they are read from --cases, else ``$MATHGRPO_PEER_CASES``, else
``../shared/data/grading-peers``; without them the script says so and exits 2.

Each case runs through ``mathgrpo.grading`` in both verdicts (``strict``, ``equivalent``), with the
prediction read the way the peer reads it:
  answer  the peer compares extracted answers (NeMo-Skills, hendrycks MATH): ``Grader.grade_answer``
  boxed   the peer grades the last box (rllm/DeepScaleR): ``grade`` with the box reading
  text    the peer falls back to the answer the text states (math-verify, lighteval, open-r1):
          ``grade(..., extraction="text")`` where the grader has that reading, else the box reading
          (and the report says so)
and once more with the box reading for every text-reading case (the training reward's reading):
the "box reading" column. In that column (and in the first when there is no text reading) a
prediction that is nothing but an answer (``$[0,1)$``, ``x >= 5``) is graded as that answer: the
peer's test hands over an answer, not a completion that failed to box one.
math-verify's default ``verify(parse(gold), parse(pred))`` runs on the same cases for comparison.

A verdict agrees when it accepts exactly the cases the peer expects accepted (an unknown, None,
counts as not accepted, as in ``mathgrpo eval``). Multiple-choice letters (lighteval's lettered
extraction) are out of scope and counted apart, as are pairs the peer's file gives without a verdict
(Qwen2.5-Math keeps its cases as commented-out prints). Every disagreement of ``equivalent`` (peer's
reading) and ``strict`` is printed with its judgement from bench/peers/judgements.json -- fixed,
design, peer option or debatable, each with one line in our words -- or as UNJUDGED.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JUDGEMENTS = REPO / "bench" / "peers" / "judgements.json"
LEVELS = REPO / "bench" / "peers" / "levels.json"
CLASSES = ("fixed", "design", "peer option", "debatable")
# Columns: our verdicts (verdict, reading) and math-verify's default.
COLUMNS = ("strict", "equivalent", "equivalent-boxed", "math-verify")


def cases_dir(given: str | None = None) -> Path | None:
    """The folder of extracted cases: --cases, $MATHGRPO_PEER_CASES or ../shared/data/grading-peers."""
    for candidate in (given, os.environ.get("MATHGRPO_PEER_CASES"), REPO.parent / "shared/data/grading-peers"):
        if candidate and Path(candidate).is_dir() and any(Path(candidate).glob("*.jsonl")):
            return Path(candidate)
    return None


def load_cases(folder: Path, suites: list[str] | None = None) -> list[dict]:
    cases = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                if not suites or case["suite"] in suites:
                    cases.append(case)
    return cases


def text_reading_kwargs() -> tuple[dict, dict]:
    """The keyword that picks the box / text reading in ``grade``, if the grader has one."""
    from mathgrpo.grading import grade

    params = inspect.signature(grade).parameters
    for name in ("extraction", "reading"):
        if name in params:
            return {name: "boxed"}, {name: "text"}
    return {}, {}


def as_text(value):
    """A prediction as the peer's grader sees it: NeMo-Skills' math_equal str()s numbers."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")


def lone_answer(pred: str) -> str | None:
    """The answer when a prediction is nothing but one (``$[0,1)$``, ``x >= 5``), else None.

    A text-reading peer's test often hands over a bare answer rather than a solution; the box
    reading finds no box in it, and grading it as the extracted answer is how it is presented."""
    s = pred.strip()
    if "\\boxed" in s or "\\fbox" in s:
        return None
    for left, right in _DELIMITERS:
        if s.startswith(left) and s.endswith(right) and len(s) > len(left) + len(right):
            inner = s[len(left) : -len(right)]
            if "$" not in inner and "\\(" not in inner and "\\[" not in inner:
                return inner.strip()
            return None
    return s if "$" not in s and not _WORD.search(s) else None


def our_verdicts(case: dict, grader, boxed_kw: dict, text_kw: dict) -> dict:
    from mathgrpo.grading import grade

    gold, pred, reading = case["gold"], as_text(case["pred"]), case["reading"]
    out = {}
    for verdict in ("strict", "equivalent"):
        if reading == "answer":
            out[verdict] = grader.grade_answer(pred, gold, verdict)
        elif reading == "text" and not text_kw and lone_answer(pred) is not None:
            out[verdict] = grader.grade_answer(lone_answer(pred), gold, verdict)
        else:
            kw = text_kw if reading == "text" else boxed_kw
            out[verdict] = grade(pred or "", gold, verdict=verdict, grader=grader, **kw)
    if reading != "text":
        out["equivalent-boxed"] = out["equivalent"]
    elif lone_answer(pred) is not None:
        out["equivalent-boxed"] = grader.grade_answer(lone_answer(pred), gold, "equivalent")
    else:
        out["equivalent-boxed"] = grade(pred or "", gold, verdict="equivalent", grader=grader, **boxed_kw)
    return out


def math_verify_default(case: dict) -> bool | None:
    """math-verify as its README uses it: ``verify(parse(gold), parse(pred))``, all defaults."""
    from math_verify import parse, verify

    golds = case["gold"] if isinstance(case["gold"], list) else [case["gold"]]
    pred = as_text(case["pred"])
    if pred is None:
        return False
    try:
        parsed = parse(pred)
        return any(verify(parse(as_text(g)), parsed) for g in golds if g is not None)
    except Exception:  # a peer's own failure is its verdict "not accepted"
        return None


def agrees(verdict: bool | None, expected: bool) -> bool:
    return (verdict is True) == expected


def run(cases: list[dict], grader=None) -> dict:
    """Every case's verdicts and the per-suite agreement, as one JSON-able dict."""
    import logging

    from mathgrpo.grading import GRADER_VERSION, Grader

    logging.getLogger("mathgrpo.grading").setLevel(logging.ERROR)  # ungradeable golds are counted here
    grader = grader or Grader()
    boxed_kw, text_kw = text_reading_kwargs()
    rows, suites = [], {}
    for case in cases:
        row = {k: case[k] for k in ("id", "suite", "expected", "reading", "multiple_choice", "options")}
        if case["expected"] is not None and not case["multiple_choice"]:
            row.update(our_verdicts(case, grader, boxed_kw, text_kw))
            row["math-verify"] = math_verify_default(case)
        rows.append(row)
        s = suites.setdefault(case["suite"], Counter())
        kind = "multiple_choice" if case["multiple_choice"] else "unlabeled" if case["expected"] is None else "cases"
        s[kind] += 1
        if kind == "cases":
            for col in COLUMNS:
                s[col] += agrees(row[col], case["expected"])
    total = Counter()
    for s in suites.values():
        total.update(s)
    return {
        "grader_version": GRADER_VERSION,
        "text_reading": bool(text_kw),
        "suites": {name: dict(s) for name, s in sorted(suites.items())},
        "total": dict(total),
        "rows": rows,
    }


def load_judgements() -> dict:
    return json.loads(JUDGEMENTS.read_text()) if JUDGEMENTS.exists() else {}


def disagreements(result: dict, judgements: dict) -> list[dict]:
    """Every (case, verdict) where our verdict and the peer's expectation differ, with its judgement."""
    out = []
    for row in result["rows"]:
        if row["expected"] is None or row["multiple_choice"]:
            continue
        for col in ("equivalent", "strict"):
            if agrees(row[col], row["expected"]):
                continue
            judged = judgements.get(row["id"], {}).get(col) or judgements.get(row["id"], {}).get("any")
            out.append({**row, "verdict": col, "ours": row[col], "judgement": judged})
    return out


def pct(n: int, d: int) -> str:
    return f"{n} ({100 * n / d:.1f}%)" if d else "-"


def table(result: dict) -> str:
    lines = [
        "| suite | cases | strict | equivalent | equivalent, box reading | math-verify default "
        "| multiple choice (apart) | unlabeled (apart) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in [*result["suites"].items(), ("all", result["total"])]:
        n = s.get("cases", 0)
        cells = [pct(s.get(c, 0), n) for c in COLUMNS]
        apart = f"{s.get('multiple_choice', 0)} | {s.get('unlabeled', 0)}"
        lines.append(f"| {name} | {n} | " + " | ".join(cells) + f" | {apart} |")
    return "\n".join(lines)


def report(result: dict, judgements: dict, cases: dict[str, dict]) -> str:
    out = [table(result), ""]
    if not result["text_reading"]:
        out.append("note: this grader has no text reading: text-reading peers were graded on the box only")
    dis = disagreements(result, judgements)
    counts = Counter((d["verdict"], d["judgement"]["class"] if d["judgement"] else "UNJUDGED") for d in dis)
    out.append("disagreements: " + ", ".join(f"{v}/{c}: {n}" for (v, c), n in sorted(counts.items())))
    for d in dis:
        case = cases[d["id"]]
        j = d["judgement"]
        label = f"{j['class']}: {j['why']}" if j else "UNJUDGED"
        out.append(
            f"- [{d['verdict']}] {d['id']} gold={case['gold']!r} pred={str(case['pred'])[:160]!r} "
            f"expected={d['expected']} ours={d['ours']} ({case['sources'][0]}) -- {label}"
        )
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", help="folder of extracted JSONL cases (default: $MATHGRPO_PEER_CASES, ...)")
    parser.add_argument("--suite", action="append", help="only these suites (repeatable)")
    parser.add_argument("--json", type=Path, help="write every verdict here")
    parser.add_argument("--markdown", type=Path, help="write the table and disagreements here")
    parser.add_argument(
        "--record-levels",
        action="store_true",
        help="record this run's agreement per suite as the floor for this grader version (bench/peers/levels.json)",
    )
    args = parser.parse_args(argv)
    if args.cases and not any(Path(args.cases).glob("*.jsonl")):
        print(f"--cases {args.cases}: no .jsonl case files there (bench/peers/extract.py --out writes them)")
        return 2
    if args.record_levels and args.suite:
        print("--record-levels records every suite: run it without --suite")
        return 2
    folder = cases_dir(args.cases)
    if folder is None:
        print("no peer cases: run bench/peers/extract.py and pass --cases DIR (or set MATHGRPO_PEER_CASES)")
        return 2
    cases = load_cases(folder, args.suite)
    start = time.time()
    result = run(cases)
    import mathgrpo

    result.update(
        cases_dir=str(folder),
        grader_path=str(Path(mathgrpo.__file__).parent),
        date=datetime.date.today().isoformat(),
        machine=f"{platform.machine()}, {os.cpu_count()} cores",
        seconds=round(time.time() - start, 1),
    )
    text = report(result, load_judgements(), {c["id"]: c for c in cases})
    print(f"grader {result['grader_version']} from {result['grader_path']}; {len(cases)} cases in {result['seconds']}s")
    print(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.record_levels:
        record_levels(result)
    return 0


def record_levels(result: dict) -> None:
    """Store this run's counts as tests/test_peer_agreement.py's floor for this grader version."""
    data = json.loads(LEVELS.read_text()) if LEVELS.exists() else {"levels": {}, "runs": {}}
    keep = ("cases", "strict", "equivalent")
    data["levels"][result["grader_version"]] = {
        name: {k: s.get(k, 0) for k in keep} for name, s in result["suites"].items() if s.get("cases")
    }
    data.setdefault("runs", {})[result["grader_version"]] = {
        "date": result["date"],
        "machine": result["machine"],
        "text_reading": result["text_reading"],
        "command": "python bench/agreement_peers.py --cases PEER_CASES --record-levels",
    }
    LEVELS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"recorded levels for grader {result['grader_version']} in {LEVELS.relative_to(REPO)}")


if __name__ == "__main__":
    sys.exit(main())
