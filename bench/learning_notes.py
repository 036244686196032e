"""Hand-written text for bench/learning.py's report: how the task was chosen, the earlier run's
history and the reading of the measured runs (the rest of the report is generated).

Usage: ``from learning_notes import CHOICE_NOTES, EARLIER_RUN, FINDINGS``  (bench/ is on sys.path
when ``python bench/learning.py`` runs)
"""

from __future__ import annotations

# How the task, template and settings were chosen: measured on TRAINING problems only, with a
# throwaway script (transformers generate, temperature 0.7, 64 new tokens, 64 problems each).
CHOICE_NOTES = """\
| template | problems (split=train) | accuracy | boxed | accuracy among boxed | last number right |
|---|---|---|---|---|---|
| system line asking for `\\boxed{}` with an example in it | bare add, mul, operands <= 9 | 2% | 8% | 20% | 42% |
| `boxed_example` | bare add, mul, operands <= 9 | 48% | 77% | 63% | 53% |
| `boxed_example` | bare, all four ops, operands <= 12 | 28% | 62% | 45% | 36% |
| `boxed_example` | word problems, add, mul, operands <= 9 | 14% | 33% | 43% | 23% |
| `boxed_example` | word problems, all four ops, operands <= 9 (first choice) | 16% | 42% | 37% | 27% |
| `boxed_example` | bare, all four ops, operands <= 18 | 16% | 73% | 21% | 23% |
| `boxed_example` | word problems, add, sub, operands <= 9 | 8% | 34% | 23% | 23% |
| `boxed_example` | word problems, all four ops, operands <= 5 (chosen) | 17% | 34% | 50% | 25% |

A first full run used word problems with operands up to 9; its held-out baseline came out at
9.0% (below the 10% floor the issue sets), so it was stopped after the baseline and 11 training
steps (training reward 0 in 8 of them) and the operands were lowered to 5 -- a choice made
from the training-split rows above, not from any held-out result after training. The
chosen setting starts inside 10-50% with room in both format (box use) and arithmetic.

The step is the cheapest that still gives a group signal on 2 cores: one prompt, a group of 8,
48 new tokens, 64 steps. The learning rate was then searched on a *validation set drawn from
the training split* (`generated:arithmetic?n=100&seed=1&split=train&max_operand=5`; none of it
is in the held-out set; 34 of its 100 problems are in the recipe's 2000-problem pool, of which
64 are drawn in training), after the first strict-grader run at 5e-5 (section "Another
configuration, for comparison" below) had collapsed. Each candidate trained for 64 steps (one thread each, two at a
time, about 20 minutes) and was evaluated with the held-out set's sampling settings:

| candidate (everything else as in the recipe) | validation accuracy | boxed | accuracy among boxed | right equations |
|---|---|---|---|---|
| the model before training | 5% | 29% | 17% | 93% |
| lr 2e-5, KL to the reference model (`beta` 0.04), after 32 / 64 steps | 46% / 59% | 91% / 90% | 51% / 66% | 76% / 82% |
| lr 1e-5, no KL term, after 32 / 64 steps (chosen) | 46% / 85% | 96% / 99% | 48% / 86% | 81% / 89% |

```
mathgrpo train --config recipes/demo/learning-cpu.yaml --learning_rate 2e-5 --beta 0.04 --save_total_limit 2 --output_dir DIR
mathgrpo eval --model DIR/checkpoint-32 --benchmarks "generated:arithmetic?n=100&seed=1&split=train&max_operand=5" --template boxed_example --temperature 0.7 --top-p 1.0 --max-new-tokens 64 --n 1 --seed 0 --output DIR/val-32
```
Over the four quarters of training, the chosen candidate's training reward went 0.10, 0.31,
0.48, 0.80 (0.14, 0.34, 0.43, 0.72 with 2e-5 and KL), its completions got shorter (46 -> 38
tokens) and fewer hit the 48-token limit (84% -> 21%), while the token entropy fell more
gently than at 5e-5 (0.72 in the first quarter -> 0.23 in the last; at 5e-5 it was 0.37
already in the first quarter and 0.11 in the last). No other candidate was tried; the held-out set was evaluated once, with the
chosen recipe.
"""
# Kept as history (copied from the run's report, commit 6439702; not re-run): the first full run
# of this benchmark, under the grader as it then was, and what it found.
EARLIER_RUN = """\
The first full run of this benchmark (2026-11-24 07:36; the same task, held-out set and
sampling, at learning rate 5e-5; commit 6439702) was graded by the rule of the time: math-verify compared the *value*
of the last box with the gold. It reported held-out accuracy **13.0% -> 60.5%** (+47.5 points,
95% paired bootstrap +39.5 to +55.0). All of that gain was a reward hack: each of the 121
correct answers after training boxed an expression -- `\\boxed{4 * 1}` for gold 4,
`\\boxed{4 - 3}` for gold 1 -- that the grader evaluated to the gold. Boxes holding an
expression went from 0.5% to 77.0% of completions; boxes holding the right plain number fell
from 13.0% to 0.0%; the last number written was the gold in 23.0% of completions before and
20.5% after. GRPO had learnt to box the right operation on the right numbers, not to compute it.

That finding made the grader strict (commit 6988e18): an integer gold needs an integer
literal (`1{,}000`, `5.0`, `x = 5`, `12 \\text{ cm}` are accepted; `4*1`, `\\frac{8}{2}`, `2^2`
are not), as in DAPO's verifier and PRM800K's grader. Every run on this page is graded by that
rule; the two rows on boxes that hold no integer check that the hack stays gone.
"""
# What the measured run shows, written by hand after it (the rest of the page is generated):
# dated, so that a later rerun with other numbers shows it was not rewritten.
FINDINGS: dict[str, str] = {
    "cpu": """\
Reading of the run of 2026-11-24 09:44 (written by hand after it; the tables and the curves are
generated). GRPO raised held-out accuracy from 13.0% to 79.5%, +66.5 points (95% paired
bootstrap interval +59.0 to +74.0), on 200 problems that were never trained on nor used to choose
anything. Every operation gained: of the held-out problems, additions 12 -> 46 right of 58,
subtractions 3 -> 33 of 40, multiplications 7 -> 51 of 61, divisions 4 -> 29 of 41.

What was learnt is mostly *how to answer*, not how to add. Box use went from 36.5% to 99.0%,
but the gain is not only format: accuracy among boxed completions rose too (35.6% -> 80.3%), and
so did the format-free view, the last number written (23.0% -> 76.0%). The equations
`a op b = c` the model writes were right 88.7% of the time before and 90.0% after: its arithmetic
on small numbers was already good and did not get worse (at learning rate 5e-5 it fell to 18%,
below). Before training it rambled ("To solve this problem, we need to...") and often ran out of
its 64 tokens before any answer (55 tokens on average); after, it restates the problem, writes the
one operation the problem asks for and boxes its result ("Ava has 5 bags with 5 apples in each
bag, so Ava has 5 x 5 = 25 apples. The answer is \\boxed{25}."), 41 tokens on average. The boxed
answers follow the golds' distribution (34 completions box 1, 30 of them rightly; 35 golds are 1):
no guessing of a common answer. Two boxes hold an expression instead of an integer, neither equal
to the gold: the reward hack of the earlier run (below) stays gone. What is left wrong: wrong
products (`3 x 4 = 18`), the wrong operation or a lost number, and 31 completions that copy
the prompt's example after their answer ("In general, 3 + 4 = 7, so answer is \\boxed{7}"),
which turns 3 right first answers into wrong last ones.

The curves (below, blue) show steady learning: the training reward rose over the four quarters
of training from 0.10 to 0.31, 0.48 and 0.80; the share of steps whose 8 completions all got the
same reward (no signal) fell from 50% to 12%; the token entropy fell gently (0.72 -> 0.23); and
completions got shorter (46 -> 38 tokens; 84% -> 21% cut at the 48-token limit). The training
log matches the validation run of the same recipe step for step (same seed), and a rerun of the
whole benchmark from a fresh clone gave the same held-out numbers (15.6 minutes).

The only change from the recipe that failed (orange in the curves, section "Another
configuration" below) is the learning rate: 1e-5 instead of 5e-5. At 5e-5 the policy collapsed
within 15 steps (entropy 0.37 in the first quarter, 0.11 in the last; 81% of late steps without
signal) and its arithmetic broke; held-out accuracy moved by +2.5 points (interval -4.0 to
+9.0). That run's held-out result was known when the learning rate was searched -- it is why a
search was made -- but the choice between the candidates was made on the training-split
validation set alone (section "How the task and settings were chosen"), and the held-out set was
then evaluated once, with the chosen recipe. One more configuration was tried before that, at
5e-5 with a training temperature of 1.0 instead of 0.7 (commit 406e6d4,
`recipes/demo/learning-cpu-t1.yaml` there): it did worse, 13.0% -> 9.5%, collapsing onto boxing
`2` for most problems -- a guess of a common answer. (The 5e-5 run's 911 s of training include
one step of 163 s, taken while another job shared the two cores.)

Wall time: 14.5 minutes in all on the quiet 2-core machine (evaluations 77 s and 72 s, training
721 s, 11.3 s a step on average), inside the 30-minute budget. Not run: the GPU profile
(`recipes/demo/learning-gpu.yaml`; no GPU was lent to this work).
""",
}
