"""Evaluation metrics: mean accuracy over n samples, unbiased pass@k, majority vote, truncation.

Usage: ``pass_at_k(n=16, c=3, k=4)``; ``majority_vote(["1/2", "0.5", "3"])`` -> ``"1/2"``;
``summarize(records, n=8, ks=[1, 2, 4, 8])`` -> the numbers of one benchmark.

``records`` are the per-sample dicts evaluation writes (``id``, ``sample``, ``answer``,
``correct``, ``truncated``, ``n_tokens``); this module only counts, it generates nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``c`` correct out of ``n`` samples: ``1 - C(n-c, k) / C(n, k)``
    (Chen et al. 2021). Computed as ``1 - prod_{i=n-c+1..n} (1 - k/i)``: a product of numbers
    in [0, 1], so no huge binomials and no overflow for any n."""
    for name, value in (("n", n), ("c", c), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"pass_at_k: {name} must be an int, got {value!r}")
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k: need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def default_ks(n: int) -> list[int]:
    """Powers of two up to ``n``, plus ``n`` itself."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if n >= 1 and ks[-1] != n:
        ks.append(n)
    return ks


def _default_equivalent(a: str, b: str) -> bool:
    from mathgrpo.grading import answers_equivalent

    return answers_equivalent(a, b)


def vote_groups(answers: Sequence[str | None], equivalent: Callable[[str, str], bool] | None = None) -> list[list[int]]:
    """Indices of ``answers`` grouped by equivalence, in order of first appearance.

    Each answer joins the first group whose first member it is equivalent to (the grader's
    equivalence is not guaranteed transitive; comparing with one representative keeps the
    result independent of the group's later members). Missing or blank answers cast no vote."""
    equivalent = equivalent or _default_equivalent
    groups: list[list[int]] = []
    reps: list[str] = []
    for i, answer in enumerate(answers):
        if answer is None or not str(answer).strip():
            continue
        text = str(answer).strip()
        for group, rep in zip(groups, reps):
            if text == rep or equivalent(rep, text):
                group.append(i)
                break
        else:
            groups.append([i])
            reps.append(text)
    return groups


def majority_index(answers: Sequence[str | None], equivalent: Callable[[str, str], bool] | None = None) -> int | None:
    """Index of the first member of the largest group; a tie goes to the group whose first
    member came first (the earliest sample), so the vote is deterministic. None when no answer."""
    groups = vote_groups(answers, equivalent)
    if not groups:
        return None
    best = max(groups, key=len)  # max keeps the first of equal lengths
    return best[0]


def majority_vote(answers: Sequence[str | None], equivalent: Callable[[str, str], bool] | None = None) -> str | None:
    """The majority answer (answers grouped by ``equivalent``, the grader's by default)."""
    i = majority_index(answers, equivalent)
    return None if i is None else str(answers[i]).strip()


# Oat-Zero's (Dr. GRPO's) five-benchmark average, the number its tables report.
OAT_ZERO_BENCHMARKS = ("aime24", "amc23", "math500", "minerva", "olympiadbench")


def _unknown(rec: dict) -> bool:
    """A verdict neither right nor wrong (the strict one too, where the record has it)."""
    return rec.get("correct") is None or ("correct_strict" in rec and rec["correct_strict"] is None)


def summarize(
    records: Iterable[dict],
    n: int,
    equivalent: Callable[[str, str], bool] | None = None,
    breakdowns: Sequence[str] = (),
) -> dict:
    """Numbers of one benchmark from its per-sample records (samples ``0..n-1`` of each problem).

    - ``accuracy``: mean over problems of (correct samples / n) -- mean@n, i.e. pass@1 -- under the
      ``equivalent`` verdict (``correct``), the one published numbers use; ``accuracy_strict`` under
      the training reward's ``strict`` verdict (``correct_strict``).
    - ``pass_at_k``: the unbiased estimator for every k <= n, averaged over problems.
    - ``maj_at_k``: share of problems whose majority answer over the first k samples is correct,
      for every k <= n (``majority`` is maj@n).
    - ``truncated``: share of samples that hit the token limit without a stop token.
    - ``by_<field>``: accuracy per value of each of ``breakdowns`` (the benchmark definition's, e.g.
      MATH-500's ``level`` and ``subject``), where the records carry the field.
    An *unknown* verdict (``correct`` or ``correct_strict`` is None: math-verify ran out of time
    twice, or the gold cannot be read) is never counted as wrong, nor as right: a problem with an
    unknown sample is left out of every metric above (they are over ``graded`` problems) and counted
    in ``unknown_problems``; ``unknown`` counts its samples, ``ungradeable`` the problems whose gold
    the grader cannot read (a subset). A resumed eval re-grades unknown samples (folder.regrade),
    so a timeout on a busy machine goes away by itself; a gold that cannot be read stays unknown.
    """
    by_problem: dict[str, dict[int, dict]] = defaultdict(dict)
    for rec in records:
        if 0 <= rec["sample"] < n:
            by_problem[str(rec["id"])][rec["sample"]] = rec
    incomplete = [pid for pid, samples in by_problem.items() if len(samples) != n]
    if incomplete:
        raise ValueError(f"problems {incomplete[:3]} lack some of their {n} samples")
    out: dict = {"problems": len(by_problem), "samples_per_problem": n}
    known = {pid: samples for pid, samples in by_problem.items() if not any(_unknown(r) for r in samples.values())}
    unknown = sum(_unknown(r) for samples in by_problem.values() for r in samples.values())
    ungradeable = sum(any(r.get("gold_ok") is False for r in samples.values()) for samples in by_problem.values())
    out.update(
        graded=len(known), unknown=unknown, unknown_problems=len(by_problem) - len(known), ungradeable=ungradeable
    )
    problems = len(known)
    if problems == 0:
        return out
    ks = range(1, n + 1)
    share, share_strict, truncated, tokens = 0.0, 0.0, 0, 0
    pass_sums, maj_sums = dict.fromkeys(ks, 0.0), dict.fromkeys(ks, 0)
    groups: dict[str, dict[str, list[float]]] = {b: defaultdict(list) for b in breakdowns}
    for samples in known.values():
        ordered = [samples[i] for i in range(n)]
        c = sum(1 for r in ordered if r.get("correct") is True)
        share += c / n
        share_strict += sum(1 for r in ordered if r.get("correct_strict", r.get("correct")) is True) / n
        for k in ks:
            pass_sums[k] += pass_at_k(n, c, k)
            winner = majority_index([r.get("answer") for r in ordered[:k]], equivalent)
            maj_sums[k] += winner is not None and ordered[winner].get("correct") is True
        truncated += sum(1 for r in ordered if r.get("truncated"))
        tokens += sum(int(r.get("n_tokens") or 0) for r in ordered)
        for field in breakdowns:
            if ordered[0].get(field) is not None:
                groups[field][str(ordered[0][field])].append(c / n)
    out.update(
        accuracy=share / problems,
        accuracy_strict=share_strict / problems,
        pass_at_k={str(k): pass_sums[k] / problems for k in ks},
        maj_at_k={str(k): maj_sums[k] / problems for k in ks},
        majority=maj_sums[n] / problems,
        truncated=truncated / (problems * n),
        mean_tokens=tokens / (problems * n),
    )
    for field in breakdowns:
        if groups[field]:
            out[f"by_{field}"] = {
                v: {"problems": len(a), "accuracy": sum(a) / len(a)} for v, a in sorted(groups[field].items())
            }
    return out


def average(summaries: dict[str, dict]) -> dict:
    """Unweighted mean over benchmarks of each shared metric (the "Avg." column of papers)."""
    filled = [s for s in summaries.values() if s.get("graded", s.get("problems"))]  # "graded": see summarize
    if not filled:
        return {}
    out: dict = {"benchmarks": len(filled)}
    for key in ("accuracy", "accuracy_strict", "majority", "truncated", "mean_tokens"):
        if all(key in s for s in filled):
            out[key] = sum(s[key] for s in filled) / len(filled)
    shared = set.intersection(*(set(s["pass_at_k"]) for s in filled))
    out["pass_at_k"] = {k: sum(s["pass_at_k"][k] for s in filled) / len(filled) for k in sorted(shared, key=int)}
    return out


def oat_zero_average(summaries: dict[str, dict]) -> dict:
    """The average over Oat-Zero's five benchmarks, when all five were evaluated (else empty)."""
    if not all(summaries.get(b, {}).get("graded", summaries.get(b, {}).get("problems")) for b in OAT_ZERO_BENCHMARKS):
        return {}
    return {"benchmarks": list(OAT_ZERO_BENCHMARKS), **average({b: summaries[b] for b in OAT_ZERO_BENCHMARKS})}


# --------------------------------------------------------------------------- tables


def _pct(value) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _columns(summary: dict) -> list[tuple[str, Callable[[dict], float | None]]]:
    """The metric columns of a summary: pass@1 (= mean@n), pass@k for k > 1, maj@n, truncated."""
    n = summary["run"]["n"]
    cols: list[tuple[str, Callable[[dict], float | None]]] = [
        (f"mean@{n}" if n > 1 else "pass@1", lambda s: s.get("accuracy")),
        ("strict", lambda s: s.get("accuracy_strict")),
    ]
    for k in summary["run"]["ks"]:
        if k > 1:
            cols.append((f"pass@{k}", lambda s, k=k: s.get("pass_at_k", {}).get(str(k))))
    for k in summary["run"]["ks"]:
        if k > 1:
            cols.append(
                (f"maj@{k}", lambda s, k=k: s.get("maj_at_k", {}).get(str(k), s.get("majority") if k == n else None))
            )
    cols.append(("truncated %", lambda s: s.get("truncated")))
    return cols


READINGS = {
    "boxed": "Answers are read from the last `\\boxed{}` only, as the training reward and Oat-Zero read them.",
    "text": "Answers are read as math-verify, lighteval and the Qwen2.5-Math harness read them: the final box, "
    "else the answer the text states.",
}


def reading(summary: dict) -> str:
    """How the run read its answers (``boxed`` for summaries written before the choice existed)."""
    return summary.get("run", {}).get("extraction") or "boxed"


def results_markdown(summary: dict) -> str:
    """The run's table: one row per benchmark (accuracies in %), plus the unweighted average."""
    st, run = summary["settings"], summary["run"]
    cols = _columns(summary)
    head = ["benchmark", "problems", "unknown", *[c for c, _ in cols], "mean tokens"]
    lines = [
        f"# Evaluation of `{st['model']}`",
        "",
        (
            f"template `{st['template']}`, temperature {st['temperature']}, top-p {st['top_p']}, "
            f"max new tokens {st['max_new_tokens']}, {run['n']} sample(s) per problem, seed {st['seed']}; "
            f"backend {st.get('backend', '?')}, {st.get('dtype', '?')}; grader {run.get('grader', '?')}; "
            f"answers read: {reading(summary)}"
        ),
        "",
        "Accuracy is the `equivalent` verdict (mathematically equal answers count, as published graders "
        "count them); `strict` is the training reward's (an integer gold wants an integer written). "
        + READINGS[reading(summary)],
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    rows = list(summary["benchmarks"].items())
    if summary.get("average"):
        rows.append(("average", {**summary["average"], "problems": ""}))
    if summary.get("oat_zero_average"):
        rows.append(("Oat-Zero five-benchmark average", {**summary["oat_zero_average"], "problems": ""}))
    for name, s in rows:
        cells = [
            name,
            str(s.get("problems", "")),
            str(s.get("unknown_problems", "")),
            *[_pct(get(s)) for _, get in cols],
            f"{s.get('mean_tokens', 0):.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for name, s in summary["benchmarks"].items():
        for key, groups in s.items():  # every breakdown the summary holds (by_level, by_subject, ...)
            field = key.removeprefix("by_")
            if key.startswith("by_") and isinstance(groups, dict) and groups:
                lines += ["", f"{name} by {field}:", "", f"| {field} | problems | accuracy |", "|---|---|---|"]
                lines += [f"| {v} | {g['problems']} | {_pct(g['accuracy'])} |" for v, g in groups.items()]
    unknown = {name: s for name, s in summary["benchmarks"].items() if s.get("unknown_problems")}
    if unknown:
        lines += [
            "",
            "Left out of the numbers above, neither right nor wrong (unknown verdicts; a resumed eval "
            "re-grades them): "
            + ", ".join(
                f"{k} {s['unknown_problems']} problem(s), {s['unknown']} sample(s)"
                + (f", {s['ungradeable']} with a gold the grader cannot read" if s.get("ungradeable") else "")
                for k, s in unknown.items()
            ),
        ]
    return "\n".join(lines) + "\n"


def compare_markdown(a: dict, b: dict, label_a: str = "A", label_b: str = "B") -> str:
    """Two runs side by side with B - A in points, for the benchmarks and metrics both have."""
    cols_a, cols_b = dict(_columns(a)), dict(_columns(b))
    shared_cols = [c for c in cols_a if c in cols_b]
    names = [n for n in a["benchmarks"] if n in b["benchmarks"]]
    if a.get("average") and b.get("average") and set(a["benchmarks"]) == set(b["benchmarks"]):
        names.append("average")
    lines = [
        f"A = {label_a}: `{a['settings']['model']}` (template `{a['settings']['template']}`; answers {reading(a)})",
        f"B = {label_b}: `{b['settings']['model']}` (template `{b['settings']['template']}`; answers {reading(b)})",
    ]
    if reading(a) != reading(b):
        lines.append(
            f"Note: the runs read answers differently ({reading(a)} vs {reading(b)}); "
            "`mathgrpo eval --regrade DIR --extraction X` re-reads one folder"
        )
    differ = [
        k
        for k in ("template", "temperature", "top_p", "max_new_tokens")
        if a["settings"].get(k) != b["settings"].get(k)
    ]
    if differ:
        lines.append(
            "Note: the runs differ in "
            + ", ".join(f"{k} ({a['settings'].get(k)} vs {b['settings'].get(k)})" for k in differ)
        )
    lines += ["", "| benchmark | metric | A | B | Δ (B-A) |", "|---|---|---|---|---|"]
    for name in names:
        sa = a["average"] if name == "average" else a["benchmarks"][name]
        sb = b["average"] if name == "average" else b["benchmarks"][name]
        for col in shared_cols:
            va, vb = cols_a[col](sa), cols_b[col](sb)
            delta = "" if va is None or vb is None else f"{100 * (vb - va):+.1f}"
            lines.append(f"| {name} | {col} | {_pct(va)} | {_pct(vb)} | {delta} |")
    only = sorted(set(a["benchmarks"]) ^ set(b["benchmarks"]))
    if only:
        lines += ["", "In one run only (not compared): " + ", ".join(only)]
    return "\n".join(lines) + "\n"
