"""Likelihood runs on both default models: the accuracies a run reports equal a recomputation
from score_text with lm-evaluation-harness's rules, and a reference answer's stored bits per
byte equal TextScore's own. Nothing is sampled, so the figures are deterministic."""

import math

import numpy as np
import pytest

from core.engine.llama import LlamaBackend
from core.engine.registry import resolve
from core.evaluation.likelihood import create_likelihood_run, run_likelihood
from core.evaluation.likelihood_results import likelihood_results
from core.evaluation.suites import builtin_questions, load_file
from core.store import Store
from core.types import LikelihoodSpec
from tests.support import DATA, GEMMA, SMOLLM2

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module", params=[SMOLLM2, GEMMA])
def backend(request, real_models):
    loaded = LlamaBackend(resolve(request.param, real_models), n_ctx=512, threads=2)
    yield loaded
    loaded.close()


def _run(tmp_path, backend, suite: str, questions, categories=()) -> tuple[Store, str]:
    store = Store(tmp_path / "l.duckdb")
    store.suites.save(suite, "test", questions)
    spec = LikelihoodSpec(suite, (backend.info,), categories=categories)
    run_id = create_likelihood_run(store, spec, "test")
    assert run_likelihood(store, run_id, lambda name: backend) == "completed"
    return store, run_id


def test_reported_mc_accuracy_equals_a_recomputation_from_score_text(tmp_path, backend):
    questions, _ = load_file(DATA / "mc_simple.jsonl")
    store, run_id = _run(tmp_path, backend, "mc", questions)
    right = right_norm = 0
    for q in questions:
        context = f"Question: {q.text}\nAnswer:"
        scores = [backend.score_text(context, " " + c, top_k=0) for c in q.choices]
        sums = np.array([math.fsum(t.logprob for t in s.tokens) for s in scores])
        lengths = np.array([float(len(c)) for c in q.choices])  # lm-eval: characters
        gold = q.choices.index(q.reference)
        right += int(np.argmax(sums) == gold)
        right_norm += int(np.argmax(sums / lengths) == gold)
    row = likelihood_results(store, run_id).summary.set_index("category").loc["all"]
    print(
        f"\n{backend.info.name}: acc {right}/18 = {row.mc_accuracy:.3f} "
        f"[{row.mc_accuracy_low:.2f}-{row.mc_accuracy_high:.2f}], acc_norm {right_norm}/18 = "
        f"{row.mc_accuracy_norm:.3f} [{row.mc_accuracy_norm_low:.2f}-"
        f"{row.mc_accuracy_norm_high:.2f}], chance {row.chance:.2f}"
    )
    assert (row.mc_items, row.failed_items) == (18, 0)
    assert (row.mc_accuracy, row.mc_accuracy_norm) == (right / 18, right_norm / 18)


def test_stored_bits_per_byte_equal_text_score_and_the_score_is_two_to_minus_bpb(tmp_path, backend):
    store, run_id = _run(tmp_path, backend, "builtin", builtin_questions(), ("math", "coding"))
    units = store.likelihood.units(run_id)
    questions = {q.id: q for q in builtin_questions()}
    assert len(units) == 18 and set(units.status) == {"done"}
    for u in units.itertuples():
        q = questions[u.question_id]
        again = backend.score_text(f"Question: {q.text}\nAnswer:", " " + q.reference, top_k=0)
        assert u.bits_per_byte == pytest.approx(again.bits_per_byte, rel=1e-9)
        assert u.reference_score == pytest.approx(2**-again.bits_per_byte, rel=1e-9)
        assert u.answer_tokens == again.n_tokens and u.answer_bytes == again.n_bytes
    row = likelihood_results(store, run_id).summary.set_index("category").loc["all"]
    print(
        f"\n{backend.info.name}: reference score {row.reference_score:.3f} "
        f"[{row.reference_score_low:.3f}-{row.reference_score_high:.3f}] (n=18), "
        f"pooled {row.reference_bits_per_byte:.3f} bits per byte"
    )
    assert 0 < row.reference_score < 1
