"""Training: the recipe's config, TRL's GRPOTrainer and DAPO's dynamic sampling, rewards, resume,
the run record, and the verbs that serve training (`train`, `prepare-data`, `grade`).

Usage: ``mathgrpo train --config recipes/demo/smollm2-cpu.yaml``
"""


def main(argv: list[str] | None = None) -> int:
    """``mathgrpo.train.main`` as before the move; imports torch/TRL only when called."""
    from mathgrpo.train.run import main as run_main

    return run_main(argv)
