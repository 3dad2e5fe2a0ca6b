"""Embedding probes on the fake embedder (a hashed bag of words, core/engine/embedding.py):
training on separable texts, the held-out split, the probe's formula, saving and loading,
and the refusals (changed model file, changed codebook, too few texts, a lonely label)."""

import dataclasses
import hashlib
import json

import numpy as np
import pytest

from core.app import classify, classify_results, learn, runs, worker
from core.app.cli import main as cli
from core.engine.embedding import FakeEmbedder
from core.engine.fake import FAKE_INFO
from core.errors import InvalidRequest
from core.evaluation.lifecycle import RunStopped
from core.evaluation.linear_probe import LinearProbe, check_probe, fit_probe, load_probe
from core.evaluation.probe import data_hash, split_texts
from core.types.classification import (
    Codebook,
    CodebookLabel,
    LabelValue,
    TextRecord,
)
from core.types.learning import LabelSource, ProbeSpec

BOOK = Codebook(
    "fruit",
    (
        CodebookLabel("A", "Apples"),
        CodebookLabel("B", "Bananas"),
        CodebookLabel("C", "Cherries"),
    ),
)
KEYWORDS = {"A": "apple orchard cider", "B": "banana peel tropical", "C": "cherry pit stone"}
FILLER = "the a of bill act on for with and to from by".split()


def _text(i: int, code: str) -> str:
    rng = np.random.default_rng(i)
    return " ".join([KEYWORDS[code], *rng.choice(FILLER, size=5)])


def _texts(per_label: int = 20, codes: str = "ABC") -> list[TextRecord]:
    return [
        TextRecord(f"t{code}{i:02d}", _text(i, code), (LabelValue(code),))
        for code in codes
        for i in range(per_label)
    ]


@pytest.fixture
def fruit(fake_mode, store):
    store.init()
    store.datasets.save("fruit", "memory", _texts())
    store.codebooks.save(BOOK, "memory")
    return store


def _spec(**changes) -> ProbeSpec:
    base = dict(
        name="fruity", dataset="fruit", codebook="fruit", model=FAKE_INFO, source=LabelSource.GOLD
    )
    return ProbeSpec(**{**base, **changes})


def test_a_probe_separates_separable_texts_on_its_held_out_texts(fruit):
    result = learn.train_probe(_spec())
    m = result.manifest
    # 60 labelled texts, 20 % held out, stratified: 4 of each label.
    assert (m.train_size, m.held_out_size) == (48, 12)
    assert result.metrics.n == 12 and result.metrics.unanswered == 0
    assert result.metrics.overall["accuracy"].value == 1.0
    assert m.metrics["macro_f1"].value == 1.0 and m.metrics["macro_f1"].n == 12
    assert [c.support for c in result.metrics.per_category] == [4, 4, 4]
    assert m.classes == ("A", "B", "C") and m.codebook_codes == ("A", "B", "C")
    assert (m.model, m.model_sha256, m.embedding_dim) == (FAKE_INFO.name, "0" * 64, 32)
    assert result.path == learn.probes_dir() / "fruity"
    assert [p.name for p in learn.probes()] == ["fruity"]


def test_verified_labels_train_a_probe_on_the_reviewed_texts_only(fruit):
    for record in _texts()[::2]:  # 30 texts reviewed, 10 of each label
        classify.decide("fruit", "fruit", record.id, "ann", [record.gold[0]])
    result = learn.train_probe(_spec(source=LabelSource.VERIFIED))
    assert result.manifest.train_size + result.manifest.held_out_size == 30
    assert result.manifest.source == "verified" and result.manifest.rule == "one"


def test_saved_probe_loads_back_with_the_same_weights_and_predictions(fruit):
    result = learn.train_probe(_spec())
    probe, manifest = load_probe(learn.probes_dir(), "fruity")
    assert manifest == result.manifest
    stored = np.load(result.path / "probe.npz", allow_pickle=False)  # no pickle needed
    assert set(stored.files) == {"coef", "intercept", "classes"}
    texts = ["apple orchard cider of", "banana peel tropical by", "cherry pit stone the"]
    vectors = FakeEmbedder(FAKE_INFO).embed(texts)
    assert [p[0].code for p in probe.propose(vectors)] == ["A", "B", "C"]
    saved = json.loads((result.path / "manifest.json").read_text())
    assert saved["data_hash"] == manifest.data_hash and saved["seed"] == 0


def test_the_probe_is_softmax_of_its_weights_worked_by_hand():
    # Two labels, scores (0, ln 3) for x = (ln 3, 0): softmax = (1/4, 3/4).
    probe = LinearProbe(np.array([[0.0, 0.0], [1.0, 0.0]]), np.zeros(2), ("A", "B"), False)
    assert probe.probabilities(np.array([[np.log(3), 0.0]]))[0] == pytest.approx([0.25, 0.75])
    (labels,) = probe.propose(np.array([[np.log(3), 0.0]]))
    assert [(p.code, round(p.confidence, 6)) for p in labels] == [("B", 0.75)]
    # Multi-label: each label's sigmoid; 0.5 or more is proposed, else the likeliest alone.
    multi = LinearProbe(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.0, -1.0]), ("A", "B"), True)
    (both,) = multi.propose(np.array([[0.0, 1.0]]))  # sigmoid(0) = 0.5, sigmoid(0) = 0.5
    assert [p.code for p in both] == ["A", "B"]
    (neither,) = multi.propose(np.array([[-1.0, 0.0]]))  # 0.269 and 0.269: the first
    assert [(p.code, round(p.confidence, 3)) for p in neither] == [("A", 0.269)]


@pytest.mark.parametrize("codes", ["AB", "ABC"])
def test_folded_weights_give_scikit_learns_probabilities(codes):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    records = _texts(8, codes)
    x = FakeEmbedder(FAKE_INFO).embed([r.text for r in records])
    labels = [(r.gold[0].code,) for r in records]
    probe = fit_probe(x, labels, list(codes), regularization=0.5)
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
    reference.fit(x.astype(np.float64), [c for (c,) in labels])
    assert probe.coef.shape == (len(codes), 32)
    assert np.allclose(probe.probabilities(x), reference.predict_proba(x), atol=1e-6)


def test_multi_label_texts_train_one_binary_probe_per_label(fake_mode, store):
    store.init()
    both = [
        TextRecord(f"m{i}", _text(i, "A") + " " + _text(i, "B"), (LabelValue("A"), LabelValue("B")))
        for i in range(15)
    ]
    store.datasets.save("mixed", "memory", _texts(15, "AC") + both)
    store.codebooks.save(BOOK, "memory")
    result = learn.train_probe(_spec(dataset="mixed", name="mixed"))
    assert result.manifest.multi_label and result.metrics.multi_label
    assert result.manifest.classes == ("A", "B", "C")
    assert result.metrics.overall["exact_match"].value == 1.0


def test_held_out_texts_stay_the_same_and_training_sets_nest():
    labelled = {r.id: (r.gold[0].code,) for r in _texts()}
    small = split_texts(labelled, _spec(held_out=12, train_size=10, seed=4))
    large = split_texts(labelled, _spec(held_out=12, train_size=30, seed=4))
    assert small.held_out == large.held_out and small.train == large.train[:10]
    assert large.pool == 48 and not set(large.train) & set(large.held_out)
    # Stratified: 12 of 60 held out, 4 of each label.
    assert sorted(labelled[t][0] for t in large.held_out) == list("AAAABBBBCCCC")
    other = split_texts(labelled, _spec(held_out=12, seed=5))
    assert other.held_out != large.held_out


def test_data_hash_is_the_sha256_of_the_sorted_pairs_whatever_the_order():
    first = {"b": ("Y", "X"), "a": ("X",)}
    expected = hashlib.sha256(b'[["a", ["X"]], ["b", ["X", "Y"]]]').hexdigest()
    assert data_hash(first) == expected
    assert data_hash({"a": ("X",), "b": ("X", "Y")}) == expected
    assert data_hash({"a": ("Y",), "b": ("X", "Y")}) != expected


def test_a_changed_model_file_is_refused(fruit):
    learn.train_probe(_spec())
    _, manifest = load_probe(learn.probes_dir(), "fruity")
    changed = dataclasses.replace(FAKE_INFO, sha256="1" * 64)
    with pytest.raises(InvalidRequest, match="not the one probe 'fruity' was trained on"):
        check_probe(manifest, changed, BOOK)
    path = learn.probes_dir() / "fruity" / "manifest.json"
    stored = json.loads(path.read_text())
    path.write_text(json.dumps({**stored, "model_sha256": "f" * 64}))
    with pytest.raises(InvalidRequest, match="train the probe again"):
        learn.checked_probe("fruity")
    path.write_text(json.dumps({**stored, "model": "gone-model"}))
    with pytest.raises(InvalidRequest, match="not among the usable models"):
        learn.checked_probe("fruity")


def test_a_changed_codebook_is_refused(fruit):
    learn.train_probe(_spec())
    bigger = Codebook("fruit", (*BOOK.labels, CodebookLabel("D", "Dates")))
    fruit.codebooks.save(bigger, "memory", replace=True)
    with pytest.raises(InvalidRequest, match="has changed since probe 'fruity'.*added D"):
        learn.checked_probe("fruity")
    with pytest.raises(InvalidRequest, match="has changed"):
        learn.probe_code("fruity", "fruit")


def test_too_few_labelled_texts_are_refused(fake_mode, store):
    store.init()
    store.datasets.save("few", "memory", _texts(3))  # 9 texts
    store.codebooks.save(BOOK, "memory")
    with pytest.raises(InvalidRequest, match="at least 10 texts with gold labels.*there are 9"):
        learn.train_probe(_spec(dataset="few"))
    assert not (learn.probes_dir() / "fruity").exists()


def test_a_label_with_one_example_is_refused(fake_mode, store):
    store.init()
    lonely = TextRecord("lonely", "cherry pit stone", (LabelValue("C"),))
    store.datasets.save("lonely", "memory", [*_texts(10, "AB"), lonely])
    store.codebooks.save(BOOK, "memory")
    with pytest.raises(InvalidRequest, match="Label\\(s\\) C have only one gold text"):
        learn.train_probe(_spec(dataset="lonely"))


def test_bad_requests_get_clear_errors(fruit):
    with pytest.raises(InvalidRequest, match="probe name"):
        learn.train_probe(_spec(name="../escape"))
    with pytest.raises(InvalidRequest, match="Training size 100 is out of range"):
        learn.train_probe(_spec(train_size=100))
    with pytest.raises(InvalidRequest, match="between 0 and 1"):
        learn.train_probe(_spec(test_share=1.5))
    learn.train_probe(_spec())
    with pytest.raises(InvalidRequest, match="exists already"):
        learn.train_probe(_spec())
    with pytest.raises(InvalidRequest, match="is empty"):
        FakeEmbedder(FAKE_INFO).embed(["fine", "  "], names=["x", "blank"])
    with pytest.raises(InvalidRequest, match="No probe named 'nope'"):
        learn.checked_probe("nope")


def test_probe_coding_is_a_coding_run_the_review_queue_orders_by_confidence(fruit):
    learn.train_probe(_spec())
    fruit.datasets.save(
        "fresh",
        "memory",
        [
            TextRecord("sure", "apple orchard cider"),
            TextRecord("torn", "apple cherry banana"),
            TextRecord("sure2", "banana peel tropical"),
        ],
    )
    run_id = learn.probe_code("fruity", "fresh")
    proposals = classify.proposals("fresh", "fruit")
    assert set(proposals.model) == {"probe:fruity"} and len(proposals) == 3
    by_text = dict(zip(proposals.text_id, proposals.label, strict=True))
    assert (by_text["sure"], by_text["sure2"]) == ("A", "B")
    queue = classify.queue("fresh", "fruit", "ann", order="confidence", run_ids=[run_id])
    assert queue[0].text_id == "torn"  # the least certain text first
    assert queue[0].min_confidence < min(q.min_confidence for q in queue[1:])
    listed = classify.runs()
    assert listed.loc[listed.id == run_id, "status"].item() == "completed"


def test_a_probe_coder_is_measured_like_any_coder(fruit):
    learn.train_probe(_spec())
    run_id = learn.probe_code("fruity", "fruit", sample=15, seed=2)
    (found,) = classify_results.metrics("fruit", "fruit", against="gold", resamples=50)
    assert found.model == f"probe:fruity · 0-shot · {run_id[:6]}"
    assert found.n == 15 and found.overall["accuracy"].value == 1.0


def test_a_stopped_probe_coding_run_resumes_without_redoing_a_text(fruit):
    learn.train_probe(_spec())
    run_id = learn.create_probe_coding("fruity", "fruit", sample=12, seed=1)

    def stop_after_five(done, total, eta):
        if done == 5:
            raise RunStopped

    with pytest.raises(RunStopped):
        learn.work_probe_run(fruit, run_id, stop_after_five)
    assert len(classify.proposals("fruit", "fruit", [run_id])) == 5
    runs.prepare_resume(run_id)
    assert str(worker.work(run_id)) == "completed"  # the worker sends it to the probe
    proposals = classify.proposals("fruit", "fruit", [run_id])
    assert len(proposals) == 12 and proposals.text_id.is_unique
    assert proposals.confidence.between(0, 1).all()


def test_a_run_of_a_probe_trained_again_since_is_not_resumed(fruit):
    learn.train_probe(_spec())
    run_id = learn.create_probe_coding("fruity", "fruit", sample=4)
    learn.train_probe(_spec(seed=9), replace=True)
    with pytest.raises(InvalidRequest, match="trained again since run"):
        worker.work(run_id)
    assert classify.proposals("fruit", "fruit", [run_id]).empty


def test_cli_trains_a_probe_and_prints_its_held_out_metrics(fruit, capsys):
    args = ["learn", "probe", "--dataset", "fruit", "--codebook", "fruit"]
    assert cli([*args, "--model", "fake", "--source", "gold", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "held-out accuracy: 1.000" in out and "(n=12)" in out
    assert "trained on 48 gold texts, held out 12" in out
    assert cli([*args, "--model", "fake", "--source", "gold", "--name", "j", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["train_size"] == 48 and printed["overall"]["accuracy"]["n"] == 12
    assert cli(["learn", "probe", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "fake-echo-fruit-gold" in listed and "j:" in listed
    assert cli(["learn", "probe", "--dataset", "fruit", "--codebook", "fruit"]) == 1
    assert "--model are needed" in capsys.readouterr().err
