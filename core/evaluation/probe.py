"""Embedding probes: a logistic regression trained on a local model's text embeddings
(core/engine/embedding.py) to predict a codebook's labels, measured on held-out texts with the
workbench's own metrics (core/evaluation/classification_metrics.py).

- Labelled texts: reviewers' verified labels (rule `one` by default) or the dataset's gold
  labels resolved through the codebook. As for few-shot examples (coding_run.example_pool),
  a text counts when all its labels are leaves of the codebook.
- Split: once, seeded, stratified by label when every label allows it (single-label data),
  into held-out texts and a training pool; a smaller training set is a seeded subset of the
  pool, and smaller subsets are prefixes of larger ones.
- Model: single-label data, a multinomial logistic regression (softmax over the labels);
  multi-label data, one binary logistic regression per label (one-vs-rest), and a text gets
  every label of probability 0.5 or more, or its likeliest label when none reaches it.
  Features are standardised before fitting; the scaling is folded into the saved weights, so
  a probe is just `softmax(x · Wᵀ + b)` (or the sigmoid, per label) on a normalised embedding.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.engine.embedding import Embedder, OnProgress
from core.errors import InvalidRequest
from core.evaluation.classification_metrics import model_metrics
from core.evaluation.linear_probe import (
    check_regularization,
    fit_probe,
    folder_for,
    save_probe,
)
from core.store import Store
from core.types.classification import Codebook
from core.types.learning import (
    PROBE_HEADLINE_METRICS,
    LabelSource,
    ProbeManifest,
    ProbeResult,
    ProbeSpec,
)

MIN_TEXTS = 10  # labelled texts a probe needs before it is split

Labelled = Mapping[str, tuple[str, ...]]  # text id -> label codes (sorted)


def labelled_texts(store: Store, dataset: str, codebook: Codebook, spec: ProbeSpec) -> dict:
    """Text id -> sorted label codes from the spec's source; only texts labelled with leaves."""
    leaves = {label.code for label in codebook.leaves}
    found: dict[str, tuple[str, ...]] = {}
    if spec.source == LabelSource.GOLD:
        for text in store.datasets.texts(dataset):
            codes = {codebook.resolve(g.code) for g in text.gold} - {None}
            if codes and codes <= leaves:
                found[text.id] = tuple(sorted(codes))
    else:
        verified = store.reviews.verified(dataset, codebook.name, spec.rule)
        for text_id, labels in zip(verified.text_id, verified.labels, strict=True):
            codes = {str(code) for code in labels}
            if codes and codes <= leaves:
                found[text_id] = tuple(sorted(codes))
    return found


def data_hash(labelled: Labelled) -> str:
    """sha256 of the sorted (text id, sorted codes) pairs: the same labels give the same hash
    whatever order they were read in."""
    pairs = sorted((str(tid), sorted(codes)) for tid, codes in labelled.items())
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ProbeSplit:
    train: tuple[str, ...]  # in the seeded order; a smaller training set is a prefix
    held_out: tuple[str, ...]  # sorted
    pool: int  # texts left for training before `train_size` took its subset


def check_labelled(labelled: Labelled, source: str) -> None:
    if len(labelled) < MIN_TEXTS:
        raise InvalidRequest(
            f"A probe needs at least {MIN_TEXTS} texts with {source} labels of leaf codes; "
            f"there are {len(labelled)}."
            + (" Review more texts on the Review page." if source == LabelSource.VERIFIED else "")
        )
    counts = Counter(code for codes in labelled.values() for code in codes)
    lonely = sorted(code for code, n in counts.items() if n < 2)
    if lonely:
        raise InvalidRequest(
            f"Label(s) {', '.join(lonely)} have only one {source} text; a probe needs at least "
            "two texts of every label (one to learn from, one to test on). Label more texts "
            "of them first."
        )
    if len(counts) < 2:
        raise InvalidRequest(f"Every {source} text has the same label; a probe needs two.")


def split_texts(labelled: Labelled, spec: ProbeSpec) -> ProbeSplit:
    from sklearn.model_selection import train_test_split

    ids = sorted(labelled)
    if spec.held_out is not None:
        held = spec.held_out
    elif 0 < spec.test_share < 1:
        held = max(1, round(spec.test_share * len(ids)))
    else:
        raise InvalidRequest(f"The held-out share must be between 0 and 1; got {spec.test_share}.")
    if not 1 <= held <= len(ids) - 2:
        raise InvalidRequest(
            f"Holding out {held} of {len(ids)} labelled texts leaves too few (or none) to test "
            "or to train on."
        )
    single = all(len(codes) == 1 for codes in labelled.values())
    strata = [labelled[t][0] for t in ids] if single else None
    try:
        pool, held_out = train_test_split(
            ids, test_size=held, random_state=spec.seed, stratify=strata
        )
    except ValueError:  # some label too rare to appear on both sides: a plain seeded split
        pool, held_out = train_test_split(ids, test_size=held, random_state=spec.seed)
    order = [sorted(pool)[i] for i in np.random.default_rng(spec.seed).permutation(len(pool))]
    size = len(order) if spec.train_size is None else spec.train_size
    if not 2 <= size <= len(order):
        raise InvalidRequest(
            f"Training size {size} is out of range: the training pool holds {len(order)} "
            f"texts once {held} are held out."
        )
    return ProbeSplit(tuple(order[:size]), tuple(sorted(held_out)), len(order))


def train_probe(
    store: Store,
    spec: ProbeSpec,
    embedder: Embedder,
    probes_dir: Path,
    on_progress: OnProgress = None,
    replace: bool = False,
) -> ProbeResult:
    """Split the labelled texts, embed them, fit on the training texts, measure on the held-out
    ones and save the probe under probes_dir/<name>/."""
    check_regularization(spec.regularization)
    if spec.dataset not in store.datasets.names():
        raise InvalidRequest(f"No dataset named {spec.dataset!r}; import it first.")
    codebook = store.codebooks.get(spec.codebook)
    folder = folder_for(probes_dir, spec.name)
    if folder.exists() and not replace:
        raise InvalidRequest(
            f"A probe named {spec.name!r} exists already; choose another name or replace it."
        )
    labelled = labelled_texts(store, spec.dataset, codebook, spec)
    check_labelled(labelled, str(spec.source))
    split = split_texts(labelled, spec)
    used = [*split.train, *split.held_out]
    texts = {t.id: t.text for t in store.datasets.texts(spec.dataset, used)}
    started = time.perf_counter()
    vectors = embedder.embed([texts[t] for t in used], on_progress, names=used)
    embed_seconds = time.perf_counter() - started
    train_x, held_x = vectors[: len(split.train)], vectors[len(split.train) :]
    started = time.perf_counter()
    leaves = [label.code for label in codebook.leaves]
    probe = fit_probe(train_x, [labelled[t] for t in split.train], leaves, spec.regularization)
    fit_seconds = time.perf_counter() - started
    name = f"probe:{spec.name}"
    predicted = {
        tid: frozenset(p.code for p in labels)
        for tid, labels in zip(split.held_out, probe.propose(held_x), strict=True)
    }
    reference = {tid: frozenset(labelled[tid]) for tid in split.held_out}
    metrics = model_metrics(reference, predicted, leaves, model=name, multi_label=probe.multi_label)
    manifest = ProbeManifest(
        name=spec.name,
        model=spec.model.name,
        model_sha256=spec.model.sha256 or "",
        codebook=codebook.name,
        codebook_codes=codebook.codes,
        classes=probe.classes,
        dataset=spec.dataset,
        source=str(spec.source),
        rule=str(spec.rule),
        multi_label=probe.multi_label,
        data_hash=data_hash(labelled),
        seed=spec.seed,
        test_share=len(split.held_out) / len(labelled),
        train_size=len(split.train),
        held_out_size=len(split.held_out),
        embedding_dim=int(vectors.shape[1]),
        regularization=spec.regularization,
        metrics={k: metrics.overall[k] for k in PROBE_HEADLINE_METRICS},
        embed_seconds=embed_seconds,
        fit_seconds=fit_seconds,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    path = save_probe(probes_dir, probe, manifest, replace)
    return ProbeResult(manifest, metrics, path)
