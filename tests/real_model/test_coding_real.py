"""LLM coding with the real default models on bill titles of the US Congress set (CAP major
topics): every answer a codebook label, confidences as the grammar-masked probabilities of the
label names, the same labels run after run, multi-label answers in codebook order, few-shot
examples from other texts' gold labels, and a stopped run resumed without redoing a unit.

llama-cpp-python's own grammar-forced sampler is compared too. It does not write what the
workbench proposes: the grammar lets it start a label with any prefix of its name, and at
temperature 0 it takes the likeliest such piece, usually a lone capital ("A" of Agriculture,
"I" of International), then spells the rest out letter by letter. The workbench follows each
name's own tokens instead (core/engine/choices.py). So where the two differ, llama-cpp-python
wrote the label in other tokens than the label's own; that is what is asserted."""

import json

import numpy as np
import pytest

from core.engine.llama import LlamaBackend
from core.engine.prompts import fallback_chat_prompt
from core.engine.registry import resolve
from core.evaluation import coding
from core.evaluation.coding_run import create_coding_run, run_coding
from core.evaluation.lifecycle import RunStopped
from core.types.classification import CodingSpec
from tests.support import CONGRESS, GEMMA, SMOLLM2, cap_codebook, congress_bills

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(not CONGRESS.exists(), reason="the shared US Congress development set"),
]

TEXTS = 6
SEED = 3


@pytest.fixture(scope="module")
def bills():
    return congress_bills(TEXTS, seed=SEED)


@pytest.fixture(scope="module")
def codebook():
    return cap_codebook("cap")


@pytest.fixture(scope="module")
def gemma(real_models):
    backend = LlamaBackend(resolve(GEMMA, real_models), n_ctx=2048, threads=2)
    yield backend
    backend.close()


@pytest.fixture(scope="module", params=[SMOLLM2, GEMMA])
def backend(request, smollm2, gemma):
    return {SMOLLM2: smollm2, GEMMA: gemma}[request.param]


def _raw_llama(backend):
    """llama-cpp-python on its own, loaded as the backend loads the model."""
    from llama_cpp import Llama

    return Llama(
        model_path=str(backend.info.path),
        n_ctx=backend.n_ctx,
        n_threads=2,
        n_threads_batch=2,
        seed=42,
        verbose=False,
    )


def _raw_answer(llm, task, text: str) -> tuple[str, int]:
    """(what llama-cpp-python writes under the task's grammar at temperature 0, its tokens).
    A model without a chat template gets the transcript our backend gives it (its own chat
    completion would format the conversation as llama-2)."""
    from llama_cpp import LlamaGrammar

    conversation = coding.messages(task, text)
    grammar = LlamaGrammar.from_string(coding.grammar(task), verbose=False)
    common = dict(grammar=grammar, temperature=0.0, seed=task.seed, max_tokens=64)
    if llm.metadata.get("tokenizer.chat_template"):
        out = llm.create_chat_completion(messages=conversation, **common)
        answer = out["choices"][0]["message"]["content"]
    else:
        out = llm.create_completion(prompt=fallback_chat_prompt(conversation), **common)
        answer = out["choices"][0]["text"]
    return answer, out["usage"]["completion_tokens"]


def _label_tokens(backend, names) -> dict[str, list[int]]:
    return {n: backend.llm.tokenize(n.encode("utf-8"), add_bos=False, special=False) for n in names}


def test_single_label_answers_are_labels_with_their_masked_probability(backend, bills, codebook):
    task = coding.CodingTask(codebook, seed=SEED)
    own = _label_tokens(backend, task.names)
    first = {n: tokens[0] for n, tokens in own.items()}
    # Every name starts with a token of its own, so the grammar's only choice is the first
    # token and a name's probability is its first token's, renormalised over the names'.
    assert len(set(first.values())) == len(task.names)
    raw = _raw_llama(backend)
    agreed = 0
    try:
        for bill in bills:
            result, seconds = coding.code_text(backend, task, bill.text)
            (proposed,) = result.labels
            assert proposed.code in codebook.codes and seconds > 0
            name = codebook.label(proposed.code).name
            assert result.raw == name and 0 < proposed.confidence <= 1

            conversation = coding.messages(task, bill.text)
            context = backend.chat_prompt(conversation)[1]
            assert result.prompt_tokens == len(context)
            with backend.lock:
                log_probs = backend._scorer.next_log_probs(context)
            weights = {n: float(np.exp(log_probs[t])) for n, t in first.items()}
            total = sum(weights.values())
            assert proposed.confidence == pytest.approx(weights[name] / total, rel=1e-6)
            assert name == max(weights, key=weights.get)
            scores = backend.score_choices(conversation, "", task.names)
            assert sum(scores.probabilities.values()) == pytest.approx(1.0, abs=1e-9)

            answer, written = _raw_answer(raw, task, bill.text)
            assert answer in task.names  # grammar-forced: always a whole label
            if answer == name:
                agreed += 1
            else:
                assert written > len(own[answer]), (bill.text, answer, name)
    finally:
        raw.close()
    print(f"{backend.info.name}: llama-cpp-python's sampler chose the same label {agreed}/6")


def _coding_run(store, backend, dataset: str, shots: int = 0, on_progress=None, load=None):
    spec = CodingSpec(dataset=dataset, codebook="cap", models=(backend.info,), shots=shots)
    run_id = create_coding_run(store, spec, backend.version)
    run_coding(store, run_id, load or (lambda name: backend), on_progress)
    return run_id


def _save(store, codebook, bills, dataset: str = "bills") -> None:
    store.codebooks.save(codebook, "test")
    store.datasets.save(dataset, "US Congress", list(bills))


def test_two_runs_give_identical_labels_and_confidences(store, backend, bills, codebook):
    _save(store, codebook, bills)
    first = _coding_run(store, backend, "bills")
    backend.score_choices([{"role": "user", "content": "Yes or no?"}], "", ["yes", "no"])
    second = _coding_run(store, backend, "bills")
    proposals = store.codings.proposals("bills", "cap")
    columns = ["text_id", "position", "label", "confidence"]
    one = proposals[proposals.run_id == first][columns].reset_index(drop=True)
    two = proposals[proposals.run_id == second][columns].reset_index(drop=True)
    assert len(one) == TEXTS and one.equals(two)


def test_multi_label_answers_are_distinct_labels_in_codebook_order(smollm2, bills, codebook):
    task = coding.CodingTask(codebook, multi_label=True, seed=SEED)
    order = {name: i for i, name in enumerate(task.names)}
    for bill in bills[:3]:
        result, _ = coding.code_text(smollm2, task, bill.text)
        names = json.loads(result.raw)
        assert names and all(n in order for n in names)
        assert [order[n] for n in names] == sorted({order[n] for n in names})  # distinct, ordered
        assert result.raw == json.dumps(names)  # exactly the grammar's spelling
        assert [p.code for p in result.labels] == [codebook.resolve(n) for n in names]
        assert all(0 < p.confidence <= 1 for p in result.labels)


class Recording:
    """The backend, with every conversation it was asked to score kept."""

    def __init__(self, backend):
        self.backend = backend
        self.conversations: list[list[dict]] = []

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def score_choices(self, messages, prefix, choices):
        self.conversations.append([dict(m) for m in messages])
        return self.backend.score_choices(messages, prefix, choices)


def test_two_shot_prompts_hold_gold_examples_of_other_texts(store, smollm2, bills, codebook):
    _save(store, codebook, bills)
    recording = Recording(smollm2)
    run_id = _coding_run(store, smollm2, "bills", shots=2, load=lambda name: recording)
    assert store.runs.get(run_id).status == "completed"
    examples = store.runs.get(run_id).config.examples
    by_id = {b.id: b for b in bills}
    assert len(examples) == 3 and all(
        codes == (by_id[tid].gold[0].code,) for tid, codes in examples
    )
    assert len(recording.conversations) == TEXTS
    for conversation, bill in zip(recording.conversations, bills, strict=True):
        roles = [m["role"] for m in conversation]
        assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
        assert conversation[-1]["content"] == f"Text: {bill.text}"
        shown = [m["content"] for m in conversation[1:-1:2]]
        answers = [m["content"] for m in conversation[2:-1:2]]
        expected = [tid for tid, _ in examples if tid != bill.id][:2]
        assert shown == [f"Text: {by_id[tid].text}" for tid in expected]
        assert answers == [codebook.label(by_id[tid].gold[0].code).name for tid in expected]
        assert f"Text: {bill.text}" not in shown
    assert len(store.codings.proposals("bills", "cap")) == TEXTS


def test_a_stopped_coding_run_resumes_with_every_text_coded_once(store, smollm2, bills, codebook):
    _save(store, codebook, bills)
    recording = Recording(smollm2)
    spec = CodingSpec(dataset="bills", codebook="cap", models=(smollm2.info,))
    run_id = create_coding_run(store, spec, smollm2.version)

    def stop_after_three(done, total, eta):
        if done == 3:
            store.runs.request_stop(run_id)  # as Stop or `perfics run --stop` does
            raise RunStopped

    with pytest.raises(RunStopped):
        run_coding(store, run_id, lambda name: recording, stop_after_three)
    assert store.runs.get(run_id).status == "stopped"
    finished = "SELECT item_no, finished_at FROM run_items WHERE run_id = ? AND status <> 'pending'"
    before = store.db.query_df(finished, [run_id])
    assert len(before) == 3 and len(recording.conversations) == 3

    store.runs.requeue(run_id)  # what Resume does first
    run_coding(store, run_id, lambda name: recording)
    assert store.runs.get(run_id).status == "completed"
    assert len(recording.conversations) == TEXTS  # the first three were not asked again
    after = store.db.query_df(finished, [run_id])
    kept = after.merge(before, on="item_no", suffixes=("", "_before"))
    assert len(kept) == 3 and (kept.finished_at == kept.finished_at_before).all()
    rows = store.db.rows
    assert rows(
        "SELECT count(*), count(DISTINCT item_no), count(*) FILTER (WHERE status = 'done') "
        "FROM run_items WHERE run_id = ?",
        [run_id],
    ) == [(TEXTS, TEXTS, TEXTS)]
    for table in ("cls_codings", "cls_proposals"):
        assert rows(
            f"SELECT count(*), count(DISTINCT item_no) FROM {table} WHERE run_id = ?", [run_id]
        ) == [(TEXTS, TEXTS)]
    coded = store.codings.proposals("bills", "cap")
    assert sorted(coded.text_id) == sorted(b.id for b in bills)
