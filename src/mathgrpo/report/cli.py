"""``mathgrpo report RUN_DIR``: plots, sample completions and a summary page for a training run.

Usage: ``mathgrpo report output/smollm2-demo [--eval output/eval-base] [--card] [--push]``

Writes into ``RUN_DIR/report/``: one PNG per metric family (see :mod:`mathgrpo.report.plots`),
``samples.jsonl`` (best and worst completions by reward at the start and the end), and
``summary.md``, which embeds the plots, the key settings, the wall time, the final numbers and
the evaluation table (base vs trained when both exist). It reads only what the run left on disk
(:mod:`mathgrpo.report.reader`), so it works on a run that is still going or died, and lists what is
missing -- with the command that fills it -- instead of failing.
"""

from __future__ import annotations

from mathgrpo.errors import ArgumentParser, UserError
from mathgrpo.files import CARD_FILE
from mathgrpo.report.card import write_model_card
from mathgrpo.report.summary import build_report


def _parser() -> ArgumentParser:
    p = ArgumentParser(prog="mathgrpo report", description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="a training output_dir (finished, running or interrupted)")
    p.add_argument(
        "--eval",
        action="append",
        default=[],
        metavar="DIR",
        help="a `mathgrpo eval` output folder to include (repeatable); folders in or beside "
        "RUN_DIR evaluating the run or its base model are found without it",
    )
    p.add_argument("--card", action="store_true", help="also (re)write the model card RUN_DIR/README.md")
    p.add_argument(
        "--push",
        action="store_true",
        help="(re)write the card and upload the finished run to the Hub, as push_to_hub does at the end "
        "of training (to retry a failed upload); the repo is the run's hub_model_id unless "
        "--hub-model-id is given",
    )
    p.add_argument("--hub-model-id", metavar="ORG/NAME", help="with --push: the repo to upload to")
    p.add_argument("--private", action="store_true", default=None, help="with --push: create the repo private")
    return p


def push(run_dir: str, hub_model_id: str | None, private: bool | None) -> str:
    """Upload a finished run (card rewritten first) to its hub_model_id, or the one given."""
    import json
    from pathlib import Path

    from mathgrpo.files import RUN_FILE
    from mathgrpo.report.card import publish

    out = Path(run_dir)
    try:
        info = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{out} holds no readable {RUN_FILE}: give the output_dir of a mathgrpo train run") from None
    if not info.get("finished"):
        raise UserError(f"{out}: the run has not finished (no final model); resume it before pushing")
    targs = info.get("training_args") or {}
    repo = hub_model_id or targs.get("hub_model_id") or out.absolute().name
    write_model_card(out)
    private = private if private is not None else targs.get("hub_private_repo")
    try:
        return publish(out, repo, revision=targs.get("hub_revision"), private=private)
    except Exception as err:
        detail = " ".join(str(err).split())[:300]
        raise UserError(
            f"upload of {out} to {repo} failed ({type(err).__name__}: {detail}); check HF_TOKEN "
            "and the network, then run this again"
        ) from err


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.push:
        repo = push(args.run_dir, args.hub_model_id, args.private)
        print(f"pushed {args.run_dir} to {repo}")  # noqa: T201 - the verb's result
        return 0
    if args.card:
        rep = write_model_card(args.run_dir, evals=args.eval)
        print(f"model card: {rep.run.path / CARD_FILE}")  # noqa: T201 - the verb's result
    else:
        rep = build_report(args.run_dir, args.eval)
    print(f"report: {rep.summary_path} ({len(rep.plots)} plots, {len(rep.samples)} samples; {rep.run.status()})")  # noqa: T201
    for what, why in rep.missing.items():
        print(f"  missing {what}: {why}")  # noqa: T201
    return 0
