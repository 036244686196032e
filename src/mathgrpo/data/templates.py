"""The one registry of prompt templates, imported by training and evaluation alike.

Usage: ``get_template("qwen_math").render("What is 1+1?", tokenizer)`` -> the prompt string.

Prompts are rendered to plain strings here (not handed to TRL as chat messages) so that
training and evaluation feed the model byte-identical text: one code path, no drift.

Each template says how it renders
- for a tokenizer with a chat template: ``system`` (if any) + the user message through
  ``apply_chat_template(..., add_generation_prompt=True)``, then ``prefill``;
- for a base model without one: ``plain.format(problem=...)`` -- a raw completion prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

from mathgrpo.errors import UserError

BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    system: str | None
    # `{problem}` is substituted literally (not str.format: templates and problems hold braces)
    user: str
    plain: str  # for tokenizers without a chat template
    prefill: str = ""  # text the assistant turn starts with (e.g. "<think>")
    force_plain: bool = False  # always render `plain`, even when a chat template exists

    def render(self, problem: str, tokenizer=None) -> str:
        """Render ``problem`` into the exact prompt text the model sees."""
        chat_template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
        if self.force_plain or not chat_template:
            return self.plain.replace("{problem}", problem)
        messages = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        messages.append({"role": "user", "content": self.user.replace("{problem}", problem)})
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # TRL tokenizes a string prompt with the tokenizer's defaults, which add a BOS token where the
        # tokenizer has one; a chat template that writes the BOS itself would then give two.
        bos = getattr(tokenizer, "bos_token", None)
        if bos and text.startswith(bos) and adds_bos(tokenizer):
            text = text[len(bos) :]
        return text + self.prefill

    @property
    def opens_think(self) -> bool:
        """True when the prompt itself opens the <think> block (the completion only closes it)."""
        return self.prefill.rstrip().endswith("<think>") or self.plain.rstrip().endswith("<think>")


def adds_bos(tokenizer) -> bool:
    """Whether tokenizing text with the tokenizer's defaults puts its BOS token first."""
    bos_id = getattr(tokenizer, "bos_token_id", None)
    if bos_id is None:
        return False
    ids = tokenizer(text="x")["input_ids"]
    return bool(ids) and ids[0] == bos_id


def encode_prompts(tokenizer, prompts: list[str]) -> list[list[int]]:
    """Prompt texts -> token ids exactly as TRL's GRPOTrainer tokenizes string prompts
    (``processing_class(text=prompts)``: the tokenizer's own special-token rule). Training's prompt
    length limit and evaluation's generation both count these ids."""
    return [list(ids) for ids in tokenizer(text=prompts)["input_ids"]]


# The seed's template: reasoning inside <think>...</think>, final answer in \boxed{}.
THINK_BOXED_SYSTEM = (
    "You are a helpful assistant that solves math problems. First think about the reasoning "
    "process inside <think> </think> tags, then give the final answer after </think> "
    "within \\boxed{}."
)

# Qwen2.5-Math's own CoT system prompt (its evaluation harness, "qwen25-math-cot").
# Without a chat template we still write ChatML, as oat and the Qwen harness do: the base
# model was trained on it, and it is what the published base-model numbers use.
QWEN_MATH_PLAIN = (
    "<|im_start|>system\n" + BOXED_INSTRUCTION + "<|im_end|>\n"
    "<|im_start|>user\n{problem}<|im_end|>\n"
    "<|im_start|>assistant\n"
)

# DeepSeek R1-Zero's template (as used by oat / Dr. GRPO). Departure from the paper: R1-Zero
# asks for <answer>...</answer>; our one grader reads the last \boxed{}, so we also ask for
# the answer in \boxed{} (as oat's r1 math variant does). It is a raw completion prompt that
# already opens <think>, so the format reward knows the completion only closes it.
R1_PLAIN = (
    "A conversation between User and Assistant. The User asks a question, and the Assistant "
    "solves it. The Assistant first thinks about the reasoning process in the mind and then "
    "provides the User with the answer. The reasoning process is enclosed within <think> "
    "</think> and answer is enclosed within <answer> </answer> tags, respectively, i.e., "
    "<think> reasoning process here </think> <answer> answer here </answer>. "
    "Put the final answer within \\boxed{}.\nUser: {problem}\nAssistant: <think>"
)

# For small instruct models (e.g. SmolLM2-135M-Instruct) that rarely box an answer when only
# told to: one worked example of the boxed format in the prompt (bench/learning.py uses it).
BOXED_EXAMPLE_USER = (
    "Example:\nQuestion: What is 3 + 4?\nAnswer: 3 + 4 = 7. The answer is \\boxed{7}.\n\nQuestion: {problem}\nAnswer:"
)

# The template `mathgrpo train` uses unless a recipe names another, and the one `mathgrpo eval`
# falls back to when no training run records one.
DEFAULT_TEMPLATE = "think_boxed"

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            name="think_boxed",
            description="the seed's: reason inside <think>...</think>, answer in \\boxed{}",
            system=THINK_BOXED_SYSTEM,
            user="{problem}",
            plain=THINK_BOXED_SYSTEM + "\n\nProblem: {problem}\n\nSolution: ",
        ),
        Template(
            name="qwen_math",
            description="Qwen2.5-Math's CoT system prompt (step by step, \\boxed{})",
            system=BOXED_INSTRUCTION,
            user="{problem}",
            plain=QWEN_MATH_PLAIN,
        ),
        Template(
            name="r1",
            description="DeepSeek R1-Zero's raw prompt, opening <think> (answer in \\boxed{})",
            system=None,
            user="{problem}",
            plain=R1_PLAIN,
            force_plain=True,
        ),
        Template(
            name="boxed_example",
            description="one worked example of the boxed answer format, then the problem",
            system="Put the final answer within \\boxed{}.",
            user=BOXED_EXAMPLE_USER,
            plain=BOXED_EXAMPLE_USER,
        ),
        Template(
            name="none",
            # Dr. GRPO's "no template": the question alone, never wrapped in a chat template
            # (Qwen2.5-Math-1.5B base scores far higher on MATH-500 this way than with one).
            description="the bare problem, no chat template even when the tokenizer has one",
            system=None,
            user="{problem}",
            plain="{problem}",
            force_plain=True,
        ),
    )
}


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise UserError(
            f"unknown template {name!r} (field `template`); choose one of: {', '.join(TEMPLATES)}"
        ) from None
