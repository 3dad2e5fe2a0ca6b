"""LoRA adapters as the screens show them: each listed "<base>+<adapter>" model beside what its
manifest says about how it was trained and how well it codes held-out texts."""

from __future__ import annotations

import pandas as pd

from core.app.formatting import with_ci
from core.engine.adapters import read_manifest
from core.types import ModelInfo
from core.types.finetune import AdapterManifest

ADAPTER_COLUMNS = [
    "name",
    "base",
    "usable",
    "reason",
    "dataset",
    "codebook",
    "train_size",
    "validation_size",
    "rank",
    "epochs",
    "final_train_loss",
    "validation_loss",
    "metrics",
    "created_at",
    "adapter_sha256",
]


def manifest_of(info: ModelInfo) -> AdapterManifest | None:
    """The manifest beside the adapter's file, or None when it cannot be read (the listing
    then says why in `reason`)."""
    if info.adapter_path is None:
        return None
    try:
        return read_manifest(info.adapter_path.parent)
    except ValueError:
        return None


def metrics_text(manifest: AdapterManifest) -> str:
    """ "accuracy 0.60 [0.50–0.70] (n=40); macro_f1 …", or a dash before any are measured."""
    parts = []
    for name, metric in sorted(manifest.metrics.items()):
        figure = with_ci(metric.value, metric.low, metric.high, metric.n)
        parts.append(f"{name} {figure}" if metric.value is not None else f"{name} –")
    return "; ".join(parts) or "–"


def _row(info: ModelInfo) -> dict:
    manifest = manifest_of(info)
    row = {
        "name": info.name,
        "base": info.base_name,
        "usable": info.usable,
        "reason": info.reason or "",
        "adapter_sha256": info.adapter_sha256,
    }
    if manifest is not None:
        row |= {
            "base": info.base_name or manifest.base_model,
            "dataset": manifest.dataset,
            "codebook": manifest.codebook,
            "train_size": manifest.train_size,
            "validation_size": manifest.validation_size,
            "rank": manifest.settings.rank,
            "epochs": manifest.settings.epochs,
            "final_train_loss": manifest.final_train_loss,
            "validation_loss": manifest.validation_loss,
            "metrics": metrics_text(manifest),
            "created_at": manifest.created_at,
        }
    return row


def adapter_table(models: list[ModelInfo]) -> pd.DataFrame:
    """One row per adapter folder found, usable or not, in the listing's order."""
    return pd.DataFrame([_row(m) for m in models if m.is_adapter], columns=ADAPTER_COLUMNS)
