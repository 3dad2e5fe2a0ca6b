"""A tiny learning curve with SmolLM2 on 36 US Congress bill titles of three CAP topics (12 of
each): 12 held out, n in {0, 8}, k-shot (k = 3) and probe, one repeat, through the background
worker's path. The zero-shot point scores what the workbench's own coding of the same held-out
titles scores, and the probe point what a probe fitted on freshly computed embeddings of the
same titles scores."""

import numpy as np
import pytest

from core.app import context, learn_curve, worker
from core.engine.embedding import LlamaEmbedder
from core.engine.registry import resolve
from core.evaluation.classification_metrics import model_metrics
from core.evaluation.coding import CodingTask, code_text
from core.evaluation.linear_probe import fit_probe
from core.types import RunStatus
from core.types.classification import Codebook
from core.types.curves import CurveMethod, CurveSpec
from core.types.learning import LabelSource
from tests.support import CONGRESS, SMOLLM2, cap_codebook, congress_bills

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(not CONGRESS.exists(), reason="the shared US Congress development set"),
]

TOPICS = ("3", "18", "21")  # health, foreign trade, public lands


def test_a_tiny_smollm2_curve_matches_the_workbench_and_a_refitted_probe(real_models, store):
    bills = congress_bills(600, seed=0)
    chosen = [b for t in TOPICS for b in [b for b in bills if b.gold[0].code == t][:12]]
    book = cap_codebook("cap")
    book = Codebook("cap3", tuple(label for label in book.labels if label.code in TOPICS))
    store.init()
    store.datasets.save("bills36", "test", chosen)
    store.codebooks.save(book, "test")
    model = resolve(SMOLLM2, real_models)
    spec = CurveSpec(
        "bills36",
        "cap3",
        (model,),
        methods=(CurveMethod.KSHOT, CurveMethod.PROBE),
        sizes=(0, 8),
        include_all=False,
        repeats=1,
        shots=3,
        source=LabelSource.GOLD,
        held_out=12,
    )
    run_id = learn_curve.create_curve(spec)
    assert worker.work(run_id) == RunStatus.COMPLETED
    config = learn_curve.curve_config(run_id)
    table = learn_curve.table(run_id).set_index(["method", "n_train"])
    assert list(table.index) == [("kshot", 0), ("kshot", 8), ("probe", 0), ("probe", 8)]
    assert table.loc[("probe", 0), "repeats"] == 0  # nothing to learn from: skipped
    for point in [("kshot", 0), ("kshot", 8), ("probe", 8)]:
        row = table.loc[point]
        assert row.n_texts == 12 and row.interval == "bootstrap"  # every title answered
        assert 0 <= row.accuracy_low <= row.accuracy <= row.accuracy_high <= 1
        assert row.code_seconds > 0
    assert table.loc[("probe", 8), "train_seconds"] > 0
    gold = {b.id: frozenset({b.gold[0].code}) for b in chosen}
    text = {b.id: b.text for b in chosen}
    held = list(config.held_out_ids)
    leaves = [label.code for label in book.leaves]

    # Zero-shot: the workbench's coding of the held-out titles scores the same.
    backend = context.open_backend(model)
    try:
        task = CodingTask(store.codebooks.get("cap3"))
        coded = {
            t: frozenset(p.code for p in code_text(backend, task, text[t])[0].labels) for t in held
        }
    finally:
        backend.close()
    direct = model_metrics({t: gold[t] for t in held}, coded, leaves, multi_label=False)
    assert table.loc[("kshot", 0), "accuracy"] == pytest.approx(direct.overall["accuracy"].value)

    # The probe: embeddings computed afresh, fitted on the 8 training titles, same score.
    train = list(config.training_ids(8, 0))
    embedder = LlamaEmbedder(model, n_ctx=512, threads=2)
    try:
        vectors = embedder.embed([text[t] for t in train + held])
    finally:
        embedder.close()
    probe = fit_probe(vectors[:8], [tuple(gold[t]) for t in train], leaves)
    predicted = {
        t: frozenset({p[0].code}) for t, p in zip(held, probe.propose(vectors[8:]), strict=True)
    }
    refitted = model_metrics({t: gold[t] for t in held}, predicted, leaves, multi_label=False)
    assert table.loc[("probe", 8), "accuracy"] == pytest.approx(refitted.overall["accuracy"].value)
    kept = np.load(learn_curve.cache_dir(run_id) / "embeddings-0.npz")
    assert kept["vectors"].shape == (20, 576) and str(kept["sha256"]) == model.sha256

    # The comparison: the base model, k-shot and the probe at n = 8, each priced.
    report = learn_curve.compare(run_id)
    assert [(r.method, r.n_train) for r in report.rows] == [
        ("base", 0),
        ("kshot", 8),
        ("probe", 8),
    ]
    assert all(r.seconds_per_text > 0 and r.money_per_1000 > 0 for r in report.rows)
