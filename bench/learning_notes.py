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
chosen setting starts inside 10-50% with room in both format (box use) and arithmetic. Hyper-parameters were not searched (a probe step of 32 completions x 64 tokens took
about three minutes on the shared 2-core machine): the CPU recipe takes the cheapest step that
still gives a group signal (one prompt, a group of 8, 48 tokens), a learning rate high enough
to move a 135M model in 64 updates (5e-5, constant), and no KL term (TRL's default beta = 0).
"""
# Kept as history (copied from the run's report, commit 6439702; not re-run): the first full run
# of this benchmark, under the grader as it then was, and what it found.
EARLIER_RUN = """\
The first full run of this benchmark (2026-11-24 07:36; the same recipe, held-out set and
sampling; commit 6439702) was graded by the rule of the time: math-verify compared the *value*
of the last box with the gold. It reported held-out accuracy **13.0% -> 60.5%** (+47.5 points,
95% paired bootstrap +39.5 to +55.0). All of that gain was a reward hack: each of the 121
correct answers after training boxed an expression -- `\\boxed{4 * 1}` for gold 4,
`\\boxed{4 - 3}` for gold 1 -- that the grader evaluated to the gold. Boxes holding an
expression went from 0.5% to 77.0% of completions; boxes holding the right plain number fell
from 13.0% to 0.0%; the last number written was the gold in 23.0% of completions before and
20.5% after. GRPO had learnt to box the right operation on the right numbers, not to compute it.

That finding made the grader strict (commit 6988e18): an integer gold needs an integer
literal (`1{,}000`, `5.0`, `x = 5`, `12 \\text{ cm}` are accepted; `4*1`, `\\frac{8}{2}`, `2^2`
are not), as in DAPO's verifier and PRM800K's grader. The run at the top of this page is the
same benchmark under that rule; the two rows on boxes that hold no integer check that the hack
stays gone.
"""
# What the measured run shows, written by hand after it (the rest of the page is generated):
# dated, so that a later rerun with other numbers shows it was not rewritten.
FINDINGS: dict[str, str] = {
    "cpu": """\
Reading of the runs of 2026-11-24 (written by hand after them; the tables and the curves are
generated). Under the strict grader this recipe raised
held-out accuracy by 2.5 points, 13.0% -> 15.5%, and the 95% interval of the gain (-4.0 to +9.0)
includes zero. GRPO taught the *format* -- a box in 94% of completions instead of 36.5% -- and
not the arithmetic; it damaged the arithmetic. The equations `a op b = c` the model writes were
right 89% of the time before training and 18% after (`4 * 1 pencils = 24 pencils`), the last
number written equals the gold less often (23.0% -> 17.5%), and 53 of the 200 completions after
training box a number above 25, the largest possible answer. So accuracy among boxed answers halved while
box use nearly tripled, and the two almost cancel.

The training curves (below) show where the learning stopped: the reward rose from 0 to about
0.4-0.5 within the first 15 steps (the model learnt to box), then swung between 0.1 and 0.75
(moving mean) with no upward trend, 0.33 over the last 16 steps; the token
entropy fell from 0.78 at the first step to 0.1-0.2 by step 15 and stayed there, and the share
of steps in which all 8 completions got the same reward -- zero advantage, so no update -- rose
from 38% in the first quarter to 81% in the last. The policy collapsed onto one short answer
shape per prompt, right or wrong, early and with a high learning rate (5e-5, constant, no KL
term), and one prompt per step then carried almost no signal to repair the arithmetic.

One more configuration was tried, chosen from that training log alone before the first
configuration's held-out result was read: the same recipe with a training temperature of 1.0
instead of 0.7, to keep groups mixed (section "A second configuration" below). It did worse:
held-out accuracy 13.0% -> 9.5% (-3.5 points, interval -9.5 to +2.5). At 1.0 the untrained
model rarely boxed a right answer within 48 tokens (training reward 0.03 over the first 16
steps, 75% of steps without signal), and what GRPO then reinforced was a guess: after training,
153 of the 200 held-out completions box `2` (a frequent small answer); 182 repeat
`Example: \\boxed{2}.` lines until the 64-token limit, and no completion writes an equation.
(Its entropy curve is not comparable with the first's: TRL measures it at the sampling
temperature.)
That is a second reward hack, of a different kind -- guessing a common answer -- which a strict
grader cannot stop; more prompts per step or a KL term to the reference model are the usual
remedies (not tested here). Neither configuration reaches the target, and neither result was used to tune
anything. Not tried, for lack of time on the shared 2-core machine: a lower learning rate
(1e-5 to 2e-5) and several prompts per step, which is what both curves point to (a collapse
within 15-20 steps, most steps without signal); a KL penalty (`beta` > 0); the GPU profile.

Wall time: the first configuration's 911 s of training include one step of 163 s, taken while
a second copy of this benchmark shared the two cores for about three minutes (stopped then);
at the median step time the whole run is about 15 minutes, inside the 30-minute budget.
""",
}
