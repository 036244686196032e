"""``mathgrpo report RUN_DIR``: plots, sample completions and a summary page for a training run.

Usage: ``mathgrpo report output/smollm2-demo [--eval output/eval-base] [--card]``

Writes into ``RUN_DIR/report/``: one PNG per metric family (see :mod:`mathgrpo.report.plots`),
``samples.jsonl`` (best and worst completions by reward at the start and the end), and
``summary.md``, which embeds the plots, the key settings, the wall time, the final numbers and
the evaluation table (base vs trained when both exist). It reads only what the run left on disk
(:mod:`mathgrpo.report.reader`), so it works on a run that is still going or died, and lists what is
missing -- with the command that fills it -- instead of failing.
"""

from __future__ import annotations

from mathgrpo.errors import ArgumentParser
from mathgrpo.files import CARD_FILE
from mathgrpo.report.card import write_model_card
from mathgrpo.report.summary import build_report


def _parser() -> ArgumentParser:
    p = ArgumentParser(prog="mathgrpo report", description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="a training output_dir (finished, running or interrupted)")
    p.add_argument("--eval", action="append", default=[], metavar="DIR",
                   help="a `mathgrpo eval` output folder to include (repeatable); folders in or beside "
                        "RUN_DIR evaluating the run or its base model are found without it")  # fmt: skip
    p.add_argument("--card", action="store_true", help="also (re)write the model card RUN_DIR/README.md")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.card:
        rep = write_model_card(args.run_dir, evals=args.eval)
        print(f"model card: {rep.run.path / CARD_FILE}")  # noqa: T201 - the verb's result
    else:
        rep = build_report(args.run_dir, args.eval)
    print(f"report: {rep.summary_path} ({len(rep.plots)} plots, {len(rep.samples)} samples; {rep.run.status()})")  # noqa: T201
    for what, why in rep.missing.items():
        print(f"  missing {what}: {why}")  # noqa: T201
    return 0
