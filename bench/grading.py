"""Benchmark the grader against plain math-verify: grades per second and accuracy, same run.

Usage: ``python bench/grading.py [--dapo-golds 2000] [--markdown grading.md]``

Sets (the boxed reading, the training reward's, unless named): (a) DAPO-Math-17k golds, each
with a right and a wrong (+1) boxed answer at the end of a
realistic reasoning text (a MATH-500 solution with its boxes removed); (b) MATH-500 reference
solutions against their answers; (d) each MATH-500 solution against the next problem's answer
(wrong answers that only sympy can reject: our worst case); (c) the labelled cases of
tests/grading_cases.py (accuracy; an ungradeable gold counts as right only when graded None);
(e) and (f) as (b) and (d) with every box removed, graded with the text reading (the answer the
text states, found by math-verify's extraction in our worker): the text reading's worst case.
Plain math-verify means what its README does: ``verify(parse("$" + gold + "$"), parse(completion))``.
Each (answer, gold) pair occurs once in a set (two completions boxing the same answer for the same
gold count once), and our grader runs with its caches off (``cache_size=0``) and fresh worker
processes, math-verify in a fresh process, so no cache -- ours, math-verify's or sympy's -- hides
work. The headline gives the worst set beside the best. Accuracy in set (c) is against labels that
encode our own rules: agreement with independent judges (math-verify, lighteval, human judgement
of every disagreement) is bench/agreement.py's, in docs/evaluation.md.
CPU seconds (ours: this process plus its math-verify workers) are reported beside wall time,
because wall time moves with the load of a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

from benchkit.paths import shared_data_dir

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    return shared_data_dir()


def load_cases() -> list:
    spec = importlib.util.spec_from_file_location("grading_cases", REPO / "tests" / "grading_cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


def dapo_pairs(data: Path, n_golds: int, bodies: list[str]) -> list[tuple[str, str, bool]]:
    import pyarrow.parquet as pq

    golds = [
        r["ground_truth"]
        for r in pq.read_table(data / "dapo-math-17k.parquet", columns=["reward_model"]).column(0).to_pylist()
    ]
    step = max(1, len(golds) // n_golds)
    pairs, seen = [], set()
    for i, gold in enumerate(golds[::step][:n_golds]):
        body = bodies[i % len(bodies)]
        for answer, right in ((gold, True), (str(int(gold) + 1), False)):
            if (answer, gold) not in seen:  # one (answer, gold) pair once: no repeat for any cache to catch
                seen.add((answer, gold))
                pairs.append((f"{body}\n\nThe answer is $\\boxed{{{answer}}}$.", gold, right))
    return pairs


def _same_value(a: str, b: str) -> bool:
    """Two golds that are one answer (``5`` and ``x=5``): such a pair is no wrong answer."""
    from mathgrpo.grading.normalize import canonical, exact_number

    na, nb = exact_number(a), exact_number(b)
    return canonical(a) == canonical(b) or (na is not None and na == nb)


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _workers_cpu(grader) -> float:
    idle = grader.pool._idle
    return sum(_proc_cpu(w.proc.pid) for w in (list(idle._items) if idle else []))


def run_mathgrpo(pairs, repeat: int, extraction: str = "boxed") -> tuple[float, float, list]:
    """Median of ``repeat`` runs, each with a fresh grader (empty caches, warm workers)."""
    from mathgrpo.grading import Grader

    runs = []
    for _ in range(repeat):
        grader = Grader(cache_size=0)  # caches off: every pair is graded from scratch
        grader.warm_up(timeout=120)
        cpu0, w0, t0 = time.process_time(), _workers_cpu(grader), time.perf_counter()
        verdicts = [grader.grade(c, g, extraction=extraction) for c, g, _ in pairs]
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0 + _workers_cpu(grader) - w0  # a killed worker's CPU is lost: rare
        grader.close()
        runs.append((wall, cpu, verdicts))
    runs.sort(key=lambda r: r[0])
    return runs[len(runs) // 2]


def run_math_verify(pairs) -> tuple[float, float, list]:
    """Plain math-verify in a fresh process, so that sympy's caches are as cold as our workers'."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_math_verify_child, pairs).result()


def _math_verify_child(pairs) -> tuple[float, float, list]:
    logging.disable(logging.WARNING)
    from math_verify import parse, verify

    verify(parse("$1$"), parse("$1$"))  # import and warm, like our warm_up
    cpu0, t0 = time.process_time(), time.perf_counter()
    verdicts = []
    for completion, gold, _ in pairs:
        text = completion if isinstance(completion, str) else "" if completion is None else completion[0]["content"]
        verdicts.append(verify(parse(f"${gold}$"), parse(text)) if gold not in (None, "") else False)
    return time.perf_counter() - t0, time.process_time() - cpu0, verdicts


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=shared_data())
    p.add_argument("--dapo-golds", type=int, default=2000, help="DAPO golds to use (2 pairs each)")
    p.add_argument("--repeat", type=int, default=5, help="mathgrpo runs per set (median reported)")
    p.add_argument("--sets", default="abcdef", help="which sets to run, by letter (default: all, abcdef)")
    p.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = p.parse_args()
    logging.disable(logging.WARNING)  # math-verify warns on every timeout-less call
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    math500 = [json.loads(line) for line in (args.data / "eval" / "math500.jsonl").open(encoding="utf-8")]
    bodies = [r["solution"].replace("\\boxed", "") for r in math500]
    sets = {
        "(a) DAPO-Math-17k golds, right + wrong": dapo_pairs(args.data, args.dapo_golds, bodies),
        "(b) MATH-500 reference solutions": [(r["solution"], r["answer"], True) for r in math500],
        # Wrong answers that need sympy (no exact path decides them): the worst case for us.
        "(d) MATH-500 solution vs the next problem's answer": [
            (math500[i]["solution"], math500[i + 1]["answer"], False)
            for i in range(len(math500) - 1)
            if not _same_value(math500[i]["answer"], math500[i + 1]["answer"])
        ],
        "(c) our labelled cases (tests/grading_cases.py: they encode our rules)": [
            (c, g, e) for c, g, e, _ in load_cases()
        ],
        # The text reading's worst case: no box anywhere, so every completion goes through
        # math-verify's extraction over its whole text (and, in (f), sympy to reject the answer).
        "(e) text reading: MATH-500 solutions with their boxes removed": [
            (b, r["answer"], True) for b, r in zip(bodies, math500)
        ],
        "(f) text reading: box-less MATH-500 solution vs the next problem's answer": [
            (bodies[i], math500[i + 1]["answer"], False)
            for i in range(len(math500) - 1)
            if not _same_value(math500[i]["answer"], math500[i + 1]["answer"])
        ],
    }
    sets = {name: pairs for name, pairs in sets.items() if name[1] in args.sets}
    rows = []
    for name, pairs in sets.items():
        labels = [e for *_, e in pairs]
        ours = run_mathgrpo(pairs, args.repeat, "text" if "text reading" in name else "boxed")
        theirs = run_math_verify(pairs)
        n = len(pairs)
        rows.append(
            (
                name,
                n,
                n / ours[0],
                n / theirs[0],
                theirs[0] / ours[0],
                theirs[1] / max(ours[1], 1e-9),
                sum(v is e for v, e in zip(ours[2], labels)) / n,
                sum(v is e for v, e in zip(theirs[2], labels)) / n,
            )
        )
        print(f"{name}: done", file=sys.stderr)

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    from importlib.metadata import version

    lines = [
        f"Machine: {cpu}, {os.cpu_count()} cores (shared), Python {platform.python_version()}, "
        f"math-verify {version('math-verify')}, sympy {version('sympy')}. "
        f"Date: {datetime.date.today().isoformat()}. "
        f"Command: `python bench/grading.py --dapo-golds {args.dapo_golds} --repeat {args.repeat}"
        + (f" --sets {args.sets}" if args.sets != "abcdef" else "")
        + "`.",
        "",
        "| set | pairs | mathgrpo grades/s | math-verify grades/s | speed-up (wall) | speed-up (CPU) "
        "| mathgrpo accuracy | math-verify accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, ours_rate, theirs_rate, wall_x, cpu_x, acc_ours, acc_theirs in rows:
        lines.append(
            f"| {name} | {n} | {ours_rate:,.0f} | {theirs_rate:,.0f} | {wall_x:,.1f}x | {cpu_x:,.1f}x "
            f"| {acc_ours:.3f} | {acc_theirs:.3f} |"
        )
    speed = [(r[4], r[0]) for r in rows if not r[0].startswith("(c)") and "text reading" not in r[0]]
    best, worst = max(speed, default=(0.0, "-")), min(speed, default=(0.0, "-"))
    lines += [
        "",
        f"Speed-up over plain math-verify (wall), boxed reading: best {best[0]:,.1f}x on {best[1]}; "
        f"worst {worst[0]:,.1f}x on {worst[1]}.",
    ]
    text = [(r[2], r[0]) for r in rows if "text reading" in r[0]]
    if text:
        slow = min(text)
        lines.append(f"Text reading, worst case: {slow[0]:,.0f} grades/s on {slow[1]}.")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        from mathgrpo.files import write_atomic

        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(args.markdown, table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
