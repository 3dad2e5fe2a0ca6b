"""Embeddings from the real default models (core/engine/embedding.py) and a probe trained on
them: the vector's size and norm, the same vector for the same text whichever texts it is
embedded with, llama.cpp's own mean pooling, the refusals, and a probe on 30 US Congress
bill titles (three CAP topics) measured on its 6 held-out titles."""

import numpy as np
import pytest

from core.app import learn
from core.engine.embedding import LlamaEmbedder
from core.engine.registry import resolve
from core.errors import InvalidRequest
from core.evaluation.linear_probe import load_probe
from core.types.learning import LabelSource, ProbeSpec
from tests.support import CONGRESS, GEMMA, SMOLLM2, cap_codebook, congress_bills

pytestmark = pytest.mark.real_model

TITLES = [
    "To suspend temporarily the duty on Fast Magenta 2 Stage.",
    "To amend the Public Health Service Act to provide for a national cancer registry.",
    "To designate the facility of the United States Postal Service in Ohio.",
    "A bill to establish the Great Basin National Heritage Area.",
]


@pytest.fixture(scope="module")
def smol(real_models):
    embedder = LlamaEmbedder(resolve(SMOLLM2, real_models), n_ctx=512, threads=2)
    yield embedder
    embedder.close()


@pytest.mark.parametrize(("name", "dim"), [(SMOLLM2, 576), (GEMMA, 640)])
def test_each_default_model_gives_unit_vectors_of_its_width(real_models, name, dim):
    embedder = LlamaEmbedder(resolve(name, real_models), n_ctx=512, threads=2)
    try:
        vectors = embedder.embed(TITLES[:2])
    finally:
        embedder.close()
    assert vectors.shape == (2, dim) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0], abs=1e-6)
    assert abs(float(vectors[0] @ vectors[1])) < 0.999  # two titles, two directions


def test_a_text_gets_the_same_vector_alone_in_a_batch_or_twice(smol):
    together = smol.embed(TITLES)
    alone = np.vstack([smol.embed([t]) for t in TITLES])
    assert np.abs(together - alone).max() < 1e-5
    assert np.array_equal(smol.embed(TITLES[:1]), smol.embed(TITLES[:1]))
    # In reverse order, each row is still its own text's vector.
    assert np.abs(smol.embed(TITLES[::-1])[::-1] - together).max() < 1e-5


def test_the_vector_is_llama_cpps_mean_pooled_embedding(smol):
    with smol.lock:
        raw = np.array(smol.llm.embed(TITLES[1], normalize=True))
    assert np.abs(smol.embed([TITLES[1]])[0] - raw).max() < 1e-6


def test_empty_and_too_long_texts_are_refused_before_anything_is_embedded(smol):
    seen = []
    with pytest.raises(InvalidRequest, match="text 'blank' is empty"):
        smol.embed([TITLES[0], " "], lambda *a: seen.append(a), names=["ok", "blank"])
    with pytest.raises(InvalidRequest, match=r"tokens, longer than the 512 tokens"):
        smol.embed([TITLES[0], "word " * 600], lambda *a: seen.append(a))
    assert seen == []  # refused up front
    assert smol.embed(TITLES[:1]).shape == (1, 576)  # and the model still works


@pytest.mark.skipif(not CONGRESS.exists(), reason="the shared US Congress development set")
def test_a_probe_on_30_bill_titles_is_measured_on_its_6_held_out_titles(real_models, store):
    topics = ("3", "18", "21")  # health, foreign trade, public lands
    bills = congress_bills(600, seed=0)
    chosen = [b for t in topics for b in [b for b in bills if b.gold[0].code == t][:10]]
    store.init()
    store.datasets.save("bills30", "test", chosen)
    store.codebooks.save(cap_codebook("cap"), "test")
    model = resolve(SMOLLM2, real_models)
    progress = []
    spec = ProbeSpec("smol-cap", "bills30", "cap", model, LabelSource.GOLD)
    result = learn.train_probe(spec, lambda done, total, eta: progress.append((done, total)))
    m = result.manifest
    assert (m.train_size, m.held_out_size, m.embedding_dim) == (24, 6, 576)
    assert m.model_sha256 == model.sha256 and m.classes == topics
    assert progress[-1] == (30, 30)
    accuracy = result.metrics.overall["accuracy"]
    assert accuracy.n == 6 and 0 <= accuracy.low <= accuracy.value <= accuracy.high <= 1
    # The saved probe, on a fresh embedding of the held-out titles, scores the same.
    probe, _ = load_probe(learn.probes_dir(), "smol-cap")
    split_ids = sorted(set(b.id for b in chosen) - _training_ids(result, chosen))
    gold = {b.id: b.gold[0].code for b in chosen}
    text = {b.id: b.text for b in chosen}
    embedder = LlamaEmbedder(model, n_ctx=512, threads=2)
    try:
        predicted = probe.propose(embedder.embed([text[t] for t in split_ids]))
    finally:
        embedder.close()
    hits = [p[0].code == gold[t] for p, t in zip(predicted, split_ids, strict=True)]
    assert len(hits) == 6 and sum(hits) / 6 == pytest.approx(accuracy.value)


def _training_ids(result, chosen) -> set[str]:
    """The training titles, recomputed from the manifest's split settings."""
    from core.evaluation.probe import split_texts

    labelled = {b.id: (b.gold[0].code,) for b in chosen}
    m = result.manifest
    spec = ProbeSpec(m.name, m.dataset, m.codebook, None, seed=m.seed, held_out=m.held_out_size)
    return set(split_texts(labelled, spec).train)
