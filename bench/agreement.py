"""Does our `equivalent` verdict agree with the graders papers use? mathgrpo's grader against
math-verify (as its README uses it) and lighteval's math metric (the extractive match lighteval's
MATH-500 task scores with), on real completions.

Usage: python bench/agreement.py --lighteval-python /path/to/venv/bin/python [--eval DIR ...] [--out DIR]
       [--no-references]

Sets (golds and texts from ../shared/data/eval):
  <bench>-reference   a reference solution against its own gold (MATH-500, Minerva: the worked
                      solution; OlympiadBench: its final answer as the dataset writes it, boxed)
  <bench>-other       the same solution against the NEXT problem's gold (a right answer is rare)
  eval:<name>         every sample of a `mathgrpo eval` folder (real model outputs)

lighteval pins an older latex2sympy2_extended than math-verify 0.9 needs, so it cannot share our
environment: it runs in its own venv (``--lighteval-python``), fed the pairs as JSON. Writes
``agreement.json`` (every pair and the three verdicts) and ``agreement.md`` (rates per set, every
disagreement) into ``--out``; the human judgement of each disagreement is docs/evaluation.md's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchkit.paths import shared_data_dir

REPO = Path(__file__).resolve().parents[1]

LIGHTEVAL_SCRIPT = r"""
import json, sys
from lighteval.metrics.dynamic_metrics import MultilingualExtractiveMatchMetric
from lighteval.metrics.utils.extractive_match_utils import ExprExtractionConfig, LatexExtractionConfig
from lighteval.models.model_output import ModelResponse
from lighteval.tasks.requests import Doc
from lighteval.utils.language import Language
import logging
logging.disable(logging.WARNING)
metric = MultilingualExtractiveMatchMetric(language=Language.ENGLISH,
    gold_extraction_target=[ExprExtractionConfig(), LatexExtractionConfig()],
    pred_extraction_target=[ExprExtractionConfig(), LatexExtractionConfig()], precision=6)
out = []
for pair in json.load(sys.stdin):
    doc = Doc(query="", choices=["$" + pair["gold"] + "$"], gold_index=0)
    try:
        out.append(metric.compute(doc, ModelResponse(text=[pair["completion"]])) == 1.0)
    except Exception:
        out.append(None)
json.dump(out, sys.stdout)
"""


def reference_pairs(data_dir: Path) -> list[dict]:
    from mathgrpo.evaluation.benchmarks import BENCHMARKS, latex_list, load_benchmark

    pairs = []
    rows = {
        b: [json.loads(x) for x in (data_dir / BENCHMARKS[b].files[0]).read_text().splitlines() if x.strip()]
        for b in ("math500", "minerva", "olympiadbench")
    }
    for bench in rows:
        golds = load_benchmark(bench, data_dir=str(data_dir))["answer"]
        texts = []
        for row in rows[bench]:
            if bench == "olympiadbench":
                raw = row["final_answer"]
                raw = raw if isinstance(raw, list) else [raw]
                texts.append("The final answer is $\\boxed{" + ", ".join(latex_list([r]) or "" for r in raw) + "}$.")
            else:
                texts.append(row["solution"])
        n = min(len(texts), len(golds))
        for i in range(n):
            pairs.append({"set": f"{bench}-reference", "id": i, "completion": texts[i], "gold": golds[i]})
            pairs.append({"set": f"{bench}-other", "id": i, "completion": texts[i], "gold": golds[(i + 1) % n]})
    return pairs


def eval_pairs(folder: Path) -> list[dict]:
    from mathgrpo.evaluation.folder import read_samples

    name = f"eval:{folder.parent.name}/{folder.name}"
    return [
        {"set": name, "id": f"{r['id']}#{r['sample']}", "completion": r["completion"], "gold": str(r["gold"])}
        for r in read_samples(folder / "samples.jsonl").values()
    ]


def math_verify_verdicts(pairs: list[dict]) -> list[bool | None]:
    """math-verify as its README uses it, in a worker (it needs the main thread for its timeouts)."""
    from math_verify import parse, verify

    out = []
    for p in pairs:
        try:
            out.append(bool(verify(parse("$" + p["gold"] + "$"), parse(p["completion"]))))
        except Exception:
            out.append(None)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lighteval-python", required=True, help="python of a venv with lighteval installed")
    ap.add_argument("--data-dir", type=Path, default=shared_data_dir() / "eval")
    ap.add_argument("--eval", type=Path, action="append", default=[], help="a mathgrpo eval output folder")
    ap.add_argument("--out", type=Path, default=REPO / "output" / "agreement")
    ap.add_argument("--no-references", action="store_true", help="only the --eval folders' samples")
    a = ap.parse_args(argv)
    from mathgrpo.files import write_atomic
    from mathgrpo.grading import EQUIVALENT, grade

    pairs = [] if a.no_references else reference_pairs(a.data_dir)
    for folder in a.eval:
        pairs += eval_pairs(folder)
    print(f"agreement: {len(pairs)} pairs; grading with mathgrpo ...", file=sys.stderr, flush=True)
    ours = [grade(p["completion"], p["gold"], verdict=EQUIVALENT) for p in pairs]
    print("agreement: math-verify ...", file=sys.stderr, flush=True)
    mv = math_verify_verdicts(pairs)
    print("agreement: lighteval ...", file=sys.stderr, flush=True)
    proc = subprocess.run(
        [a.lighteval_python, "-c", LIGHTEVAL_SCRIPT],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        check=True,
    )
    le = json.loads(proc.stdout)
    for p, o, m, lv in zip(pairs, ours, mv, le):
        p.update(mathgrpo=o, math_verify=m, lighteval=lv)
    a.out.mkdir(parents=True, exist_ok=True)
    write_atomic(a.out / "agreement.json", json.dumps(pairs, indent=1, ensure_ascii=False))
    write_atomic(a.out / "agreement.md", render(pairs))
    print(render(pairs).split("\n## ")[0])
    return 0


def render(pairs: list[dict]) -> str:
    sets = list(dict.fromkeys(p["set"] for p in pairs))
    lines = [
        "| set | pairs | mathgrpo right | math-verify right | lighteval right | agree with math-verify | "
        "agree with lighteval |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in sets:
        ps = [p for p in pairs if p["set"] == s]
        rate = lambda key: sum(1 for p in ps if p[key] is True) / len(ps)  # noqa: E731
        agree = lambda key: sum(1 for p in ps if bool(p["mathgrpo"]) == bool(p[key])) / len(ps)  # noqa: E731
        lines.append(
            f"| {s} | {len(ps)} | "
            f"{rate('mathgrpo'):.1%} | {rate('math_verify'):.1%} | {rate('lighteval'):.1%} | "
            f"{agree('math_verify'):.1%} | {agree('lighteval'):.1%} |"
        )
    lines += [
        "",
        "## Disagreements",
        "",
        "| set | id | gold | last box (mathgrpo's answer) | mathgrpo | math-verify | lighteval |",
        "|---|---|---|---|---|---|---|",
    ]
    from mathgrpo.grading import extract_boxed

    cell = lambda x: str(x).replace("|", "\\|").replace("\n", " ")[:80]  # noqa: E731
    for p in pairs:
        if bool(p["mathgrpo"]) != bool(p["math_verify"]) or bool(p["mathgrpo"]) != bool(p["lighteval"]):
            lines.append(
                f"| {p['set']} | {p['id']} | `{cell(p['gold'])}` | `{cell(extract_boxed(p['completion']))}` | "
                f"{p['mathgrpo']} | {p['math_verify']} | {p['lighteval']} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
