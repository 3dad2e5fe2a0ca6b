"""The classification workbench's logic on the fake backend: the grammar and prompt built
from a codebook, coding runs, the review queue's order and eligibility, verified labels under
each rule, acceptance counts, undo and blind double coding."""

import json

import pytest

from core.app import classify, context, worker
from core.engine.grammar_choices import choices
from core.errors import InvalidRequest
from core.evaluation.coding import CodingTask, answer_text, grammar, messages, parse_multi
from core.evaluation.coding_run import plan_coding, task_for
from core.types.classification import (
    Codebook,
    CodebookLabel,
    CodingSpec,
    LabelValue,
    TextRecord,
    VerifyRule,
)

BOOK = Codebook(
    "topics",
    (
        CodebookLabel("H", "Health", "hospitals, care"),
        CodebookLabel("M", "Money", "", ("taxes", "banks")),
        CodebookLabel("O", "Other"),
    ),
    "Code the bill title.",
)


@pytest.fixture
def toy(fake_mode, store):
    store.init()
    texts = [
        TextRecord(
            str(i), f"bill {i} on {'health' if i % 2 else 'money'}", (LabelValue("HM"[i % 2]),)
        )
        for i in range(10)
    ]
    store.datasets.save("toy", "memory", texts)
    store.codebooks.save(BOOK, "memory")
    return store


def _run(spec: CodingSpec) -> str:
    run_id = classify.create(spec)
    assert str(worker.work(run_id)) == "completed"
    return run_id


def _models(n: int):
    return tuple(context.list_models()[:n])


def test_single_label_grammar_allows_exactly_the_names():
    assert choices(grammar(CodingTask(BOOK))) == ["Health", "Money", "Other"]


def test_multi_label_grammar_allows_each_distinct_label_set_once_in_codebook_order():
    allowed = choices(grammar(CodingTask(BOOK, multi_label=True)))
    # Every non-empty subset of 3 labels, in codebook order: 2^3 - 1 = 7 answers.
    assert sorted(allowed) == sorted(
        [
            '["Health"]',
            '["Health", "Money"]',
            '["Health", "Money", "Other"]',
            '["Health", "Other"]',
            '["Money"]',
            '["Money", "Other"]',
            '["Other"]',
        ]
    )
    with_intensity = choices(grammar(CodingTask(BOOK, multi_label=True, intensities=True)))
    # Subsets of size 1, 2, 3 with 3 intensities per label: 3*3 + 3*9 + 1*27 = 63.
    assert len(with_intensity) == 63
    parsed = [json.loads(a) for a in with_intensity]
    assert all(item["intensity"] in ("low", "medium", "high") for a in parsed for item in a)


def test_prompt_lists_labels_and_examples_as_earlier_turns():
    task = CodingTask(BOOK, examples=(("bill on taxes", ("M",)),))
    conversation = messages(task, "bill on hospitals")
    system = conversation[0]["content"]
    assert "- Health: hospitals, care" in system and "(for example: taxes; banks)" in system
    assert "Code the bill title." in system
    assert [m["role"] for m in conversation] == ["system", "user", "assistant", "user"]
    assert conversation[2]["content"] == "Money"
    assert conversation[-1]["content"] == "Text: bill on hospitals"
    multi = CodingTask(BOOK, multi_label=True)
    assert answer_text(multi, ("O", "H")) == '["Health", "Other"]'
    assert [(n, o) for n, _, o in parse_multi(multi, '["Health", "Other"]')] == [
        ("Health", 2),
        ("Other", 12),
    ]


def test_coding_run_stores_one_proposal_per_text_and_model(toy):
    run_id = _run(CodingSpec("toy", "topics", _models(2)))
    proposals = classify.proposals("toy", "topics", [run_id])
    assert len(proposals) == 20 and proposals.groupby(["model", "text_id"]).size().max() == 1
    assert set(proposals.label) <= {"H", "M", "O"}
    assert proposals.confidence.between(0, 1).all()
    speeds = toy.codings.speeds("toy", "topics", [run_id])
    assert list(speeds.texts) == [10, 10] and (speeds.prompt_tokens == 0).all()


def test_sample_and_shots_are_seeded_and_exclude_the_text_itself(toy):
    spec = CodingSpec("toy", "topics", _models(1), shots=2, sample=4, seed=3)
    first, _ = plan_coding(toy, spec)
    again, _ = plan_coding(toy, spec)
    assert first.text_ids == again.text_ids and len(first.text_ids) == 4
    assert first.examples == again.examples and len(first.examples) == 3
    own = first.examples[0][0]
    task = task_for(toy, first, own)
    shown = [text for text, _ in task.examples]
    assert len(shown) == 2 and all(not s.startswith(f"bill {own} on") for s in shown)
    with pytest.raises(InvalidRequest, match="needs at least 11 texts"):
        classify.plan(CodingSpec("toy", "topics", _models(1), shots=10, sample=2))


def test_queue_orders_disagreement_first_and_hides_decided_texts(toy):
    _run(CodingSpec("toy", "topics", _models(2)))
    queue = classify.queue("toy", "topics", "ann", limit=50)
    assert len(queue) == 10
    spread = [q.distinct_labels for q in queue]
    assert spread == sorted(spread, reverse=True)
    first = queue[0]
    classify.decide("toy", "topics", first.text_id, "ann", [LabelValue("H")])
    assert first.text_id not in [q.text_id for q in classify.queue("toy", "topics", "ann")]
    # Rule `one`: decided by ann, so bob does not get it either; rule `two_agree`: he does.
    assert first.text_id not in [q.text_id for q in classify.queue("toy", "topics", "bob")]
    two = classify.queue("toy", "topics", "bob", VerifyRule.TWO_AGREE, limit=50)
    assert first.text_id in [q.text_id for q in two]
    by_confidence = classify.queue("toy", "topics", "bob", order="confidence", limit=50)
    lows = [q.min_confidence for q in by_confidence]
    assert lows == sorted(lows)


def test_verified_rules_undo_and_acceptance(toy):
    run_id = _run(CodingSpec("toy", "topics", _models(1)))
    proposed = classify.proposals("toy", "topics", [run_id]).set_index("text_id").label
    classify.decide("toy", "topics", "1", "ann", [LabelValue(proposed["1"])])  # accepts
    other = next(c for c in "HMO" if c != proposed["2"])
    classify.decide("toy", "topics", "2", "ann", [LabelValue(other)])  # rejects, adds
    classify.decide("toy", "topics", "3", "ann", [], unclear=True)
    classify.decide("toy", "topics", "1", "bob", [LabelValue(proposed["1"])])
    classify.decide("toy", "topics", "2", "bob", [LabelValue(proposed["2"])])
    one = toy.reviews.verified("toy", "topics", VerifyRule.ONE)
    assert dict(zip(one.text_id, one.labels.map(list), strict=True)) == {
        "1": [proposed["1"]],
        "2": [other],
    }
    two = toy.reviews.verified("toy", "topics", VerifyRule.TWO_AGREE)
    assert list(two.text_id) == ["1"] and list(two.reviewers[0]) == ["ann", "bob"]
    acceptance = toy.reviews.acceptance("toy", "topics").iloc[0]
    # Proposals judged: text 1 by ann and bob (accepted twice), text 2 by ann (rejected) and
    # bob (accepted); the unclear text 3 is not a judgment.
    assert (acceptance.judged, acceptance.accepted) == (4, 3)
    assert classify.undo("toy", "topics", "bob") == "2"
    acceptance = toy.reviews.acceptance("toy", "topics").iloc[0]
    assert (acceptance.judged, acceptance.accepted) == (3, 2)
    history = toy.reviews.history("toy", "topics")
    assert len(history) == 5 and history.undone_at.notna().sum() == 1
    stats = classify.review_stats("toy", "topics")
    assert (stats.reviewed_texts, stats.unclear_texts, stats.verified_texts) == (3, 1, 2)


def test_assigned_texts_go_to_their_reviewers_only_until_each_has_decided(toy):
    _run(CodingSpec("toy", "topics", _models(1)))
    assert classify.assign("toy", "topics", ["ann", "bob"], 3, seed=1) == 6
    assigned = set(toy.reviews.assignments("toy", "topics").text_id)
    ann = classify.queue("toy", "topics", "ann", limit=50)
    assert {q.text_id for q in ann if q.assigned} == assigned and ann[0].assigned
    carl = classify.queue("toy", "topics", "carl", limit=50)
    assert assigned.isdisjoint(q.text_id for q in carl)
    text = sorted(assigned)[0]
    classify.decide("toy", "topics", text, "ann", [LabelValue("H")])
    assert text in [q.text_id for q in classify.queue("toy", "topics", "bob", limit=50)]
    with pytest.raises(InvalidRequest, match="two different reviewers"):
        classify.assign("toy", "topics", ["ann", " ann "], 2)


def test_bad_decisions_are_refused_with_a_reason(toy):
    with pytest.raises(InvalidRequest, match="Enter your name"):
        classify.decide("toy", "topics", "1", "  ", [LabelValue("H")])
    with pytest.raises(InvalidRequest, match="Not labels of codebook"):
        classify.decide("toy", "topics", "1", "ann", [LabelValue("X")])
    with pytest.raises(InvalidRequest, match="at least one label"):
        classify.decide("toy", "topics", "1", "ann", [])
    with pytest.raises(InvalidRequest, match="Intensities"):
        classify.plan(CodingSpec("toy", "topics", _models(1), intensities=True))


def test_a_sampled_run_is_measured_on_its_own_texts_and_failures_count_as_unanswered(toy):
    from core.app import classify_results
    from core.types import ItemOutcome

    run_id = _run(CodingSpec("toy", "topics", _models(1), sample=4, seed=2))
    (only,) = classify_results.metrics("toy", "topics", against="gold", resamples=50)
    assert (only.n, only.unanswered) == (4, 0)  # not the 6 texts the sample left out
    # One of its units failing instead: it stays in the coder's texts, without an answer.
    units = toy.codings.units("toy", "topics", [run_id])
    toy.codings.finish(run_id, int(units.item_no.iloc[0]), ItemOutcome("failed", None, "x"))
    (only,) = classify_results.metrics("toy", "topics", against="gold", resamples=50)
    assert (only.n, only.unanswered) == (3, 1)
