"""The probe itself: a linear classifier over normalised embeddings, how it is fitted, and how
it is saved and loaded.

On disk a probe is a folder `<probes dir>/<name>/` with `probe.npz` (coefficients,
intercepts and class codes as plain arrays, read without pickle) and `manifest.json`
(core/types/learning.py ProbeManifest). Loading refuses a probe whose model file or codebook
codes have changed since it was trained: its weights would be applied to other embeddings or
name other labels.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import InvalidRequest
from core.types import ModelInfo
from core.types.classification import Codebook, ProposedLabel
from core.types.learning import PROBE_FORMAT, ProbeManifest

MAX_ITERATIONS = 2000
WEIGHTS_FILE, MANIFEST_FILE = "probe.npz", "manifest.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


@dataclass(frozen=True)
class LinearProbe:
    """Weights over a normalised embedding: `coef` (labels × dim), `intercept` (labels)."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: tuple[str, ...]
    multi_label: bool

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """Texts × classes: softmax over the labels, or each label's sigmoid (multi-label)."""
        scores = np.asarray(embeddings, dtype=np.float64) @ self.coef.T + self.intercept
        if self.multi_label:
            return 1.0 / (1.0 + np.exp(-scores))
        scores -= scores.max(axis=1, keepdims=True)
        weights = np.exp(scores)
        return weights / weights.sum(axis=1, keepdims=True)

    def propose(self, embeddings: np.ndarray) -> list[tuple[ProposedLabel, ...]]:
        """Each text's labels with the probe's probability as confidence."""
        proposals = []
        for row in self.probabilities(embeddings):
            chosen = [j for j in range(len(row)) if row[j] >= 0.5] if self.multi_label else []
            chosen = chosen or [int(np.argmax(row))]
            proposals.append(tuple(ProposedLabel(self.classes[j], float(row[j])) for j in chosen))
        return proposals


def _logistic(features: np.ndarray, targets: np.ndarray, regularization: float):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=regularization, max_iter=MAX_ITERATIONS)
    with warnings.catch_warnings():
        # A lbfgs fit that stops at the iteration cap is still a fitted probe.
        warnings.filterwarnings("ignore", message=".*(converge|ITERATIONS).*")
        model.fit(features, targets)
    return model


def check_regularization(regularization: float) -> None:
    """Refused before any text is embedded: a bad C would only surface after the embedding."""
    if not regularization > 0 or not np.isfinite(regularization):  # NaN fails both ways
        raise InvalidRequest(f"The regularisation C must be positive; got {regularization}.")


def fit_probe(
    embeddings: np.ndarray,
    labels: Sequence[tuple[str, ...]],
    codes_in_order: Sequence[str],
    regularization: float = 1.0,
) -> LinearProbe:
    """A probe on these texts; classes are the codes that occur, in codebook order."""
    check_regularization(regularization)
    x = np.asarray(embeddings, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    multi = any(len(codes) != 1 for codes in labels)
    present = {code for codes in labels for code in codes}
    classes = [code for code in codes_in_order if code in present]
    if multi:
        # One binary fit per label; a label every training text has (or none has) cannot be
        # told apart and is left out.
        fitted = []
        for code in classes:
            y = np.array([code in codes for codes in labels])
            if y.all() or not y.any():
                continue
            model = _logistic(z, y.astype(int), regularization)
            fitted.append((code, model.coef_[0], model.intercept_[0]))
        if not fitted:
            raise InvalidRequest("No label is both present and absent in the training texts.")
        classes = [code for code, _, _ in fitted]
        weights = np.array([w for _, w, _ in fitted])
        bias = np.array([b for _, _, b in fitted])
    else:
        if len(classes) < 2:
            raise InvalidRequest("The training texts all have the same label; a probe needs two.")
        y = np.array([classes.index(codes[0]) for codes in labels])
        model = _logistic(z, y, regularization)
        weights, bias = model.coef_, model.intercept_
        if len(classes) == 2:  # scikit-learn keeps one row for two classes: softmax of (0, s)
            weights = np.vstack([np.zeros_like(weights[0]), weights[0]])
            bias = np.array([0.0, bias[0]])
    # Folding the standardisation in: w·(x − μ)/σ + b = (w/σ)·x + (b − Σ w μ/σ).
    coef = weights / scale
    intercept = bias - coef @ mean
    return LinearProbe(coef, intercept, tuple(classes), multi)


def folder_for(probes_dir: Path, name: str) -> Path:
    if not _NAME.fullmatch(name or ""):
        raise InvalidRequest(
            f"A probe name is 1-80 letters, digits, '.', '_' or '-', starting with a letter or "
            f"digit; got {name!r}."
        )
    return Path(probes_dir) / name


def save_probe(
    probes_dir: Path, probe: LinearProbe, manifest: ProbeManifest, replace: bool = False
) -> Path:
    """Write the probe's folder beside a temporary one and move it into place, so a failed
    write never leaves half a probe; returns the folder."""
    folder = folder_for(probes_dir, manifest.name)
    if folder.exists() and not replace:
        raise InvalidRequest(f"A probe named {manifest.name!r} exists already.")
    partial = folder.with_name(f".{folder.name}.partial")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        np.savez(
            partial / WEIGHTS_FILE,
            coef=probe.coef,
            intercept=probe.intercept,
            classes=np.array(probe.classes, dtype=str),
        )
        (partial / MANIFEST_FILE).write_text(json.dumps(manifest.to_json(), indent=1))
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise InvalidRequest(f"Cannot write the probe to {folder}: {exc}") from exc
    return folder


def read_manifest(folder: Path) -> ProbeManifest:
    try:
        manifest = ProbeManifest.from_json(json.loads((folder / MANIFEST_FILE).read_text()))
    except FileNotFoundError:
        raise InvalidRequest(
            f"No probe named {folder.name!r} in {folder.parent}; train one first "
            "(`perfics learn probe`)."
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidRequest(f"The probe in {folder} has an unreadable manifest: {exc}") from exc
    if manifest.format != PROBE_FORMAT:
        raise InvalidRequest(
            f"Probe {manifest.name!r} was saved in format {manifest.format}; this version "
            f"reads format {PROBE_FORMAT}. Train it again."
        )
    return manifest


def load_probe(probes_dir: Path, name: str) -> tuple[LinearProbe, ProbeManifest]:
    folder = folder_for(probes_dir, name)
    manifest = read_manifest(folder)
    try:
        with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as stored:
            probe = LinearProbe(
                stored["coef"].astype(np.float64),
                stored["intercept"].astype(np.float64),
                tuple(str(c) for c in stored["classes"]),
                manifest.multi_label,
            )
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidRequest(f"The probe in {folder} has unreadable weights: {exc}") from exc
    consistent = (
        probe.coef.shape == (len(probe.classes), manifest.embedding_dim)
        and probe.intercept.shape == (len(probe.classes),)
        and probe.classes == manifest.classes
    )
    if not consistent:
        raise InvalidRequest(f"The probe in {folder}: its weights do not match its manifest.")
    return probe, manifest


def check_probe(manifest: ProbeManifest, model: ModelInfo | None, codebook: Codebook) -> None:
    """Refuse a probe whose base model file or codebook codes are not the ones it learnt on."""
    if model is None:
        raise InvalidRequest(
            f"Probe {manifest.name!r} embeds with {manifest.model}, which is not among the "
            "usable models; put that file back in the models folder."
        )
    if model.sha256 != manifest.model_sha256:
        raise InvalidRequest(
            f"The model file {model.name} is not the one probe {manifest.name!r} was trained "
            f"on (sha256 {manifest.model_sha256[:12]}…, now {str(model.sha256)[:12]}…); its "
            "embeddings differ, so train the probe again."
        )
    if tuple(codebook.codes) != tuple(manifest.codebook_codes):
        added = sorted(set(codebook.codes) - set(manifest.codebook_codes))
        removed = sorted(set(manifest.codebook_codes) - set(codebook.codes))
        change = "; ".join(
            part
            for part in (
                f"added {', '.join(added)}" if added else "",
                f"removed {', '.join(removed)}" if removed else "",
            )
            if part
        )
        raise InvalidRequest(
            f"Codebook {codebook.name!r} has changed since probe {manifest.name!r} was trained "
            f"({change or 'its codes were reordered'}); train the probe again."
        )
