"""mathgrpo's GRPOTrainer: TRL's, with sample completions kept on disk instead of printed.

Usage: ``Trainer(model=..., reward_funcs=..., args=..., print_completions=0)`` (``mathgrpo train`` builds it).

With ``log_completions: true`` TRL writes each logging step's completions to
``output_dir/completions/`` (what ``mathgrpo report`` shows) and also prints them as a table, tens
of lines per step. Here the table is printed only when the recipe asks (``print_completions: N``).
"""

from __future__ import annotations

from unittest import mock

from trl import GRPOTrainer
from trl.trainer import grpo_trainer


class Trainer(GRPOTrainer):
    def __init__(self, *args, print_completions: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.print_completions = print_completions

    def log(self, logs, start_time=None):
        if self.print_completions > 0:
            self.num_completions_to_print = self.print_completions
            return super().log(logs, start_time)
        with mock.patch.object(grpo_trainer, "print_prompt_completions_sample", lambda *a, **k: None):
            return super().log(logs, start_time)
