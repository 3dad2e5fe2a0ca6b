"""Use cases that read the classification workbench's results: agreement between reviewers
and models, each coder's metrics against verified or gold labels, acceptance rates, cost per
1,000 texts, and exports of the verified set and of the tables.

Coders are named for people: a model coder is "model · k-shot · run", a reviewer is
"reviewer: name", and the reference sets are "verified" and "gold"."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.app import context, output_files, preferences
from core.app.classify import check_scope, with_costs
from core.errors import InvalidRequest
from core.evaluation import agreement as stats
from core.evaluation.classification_metrics import metrics_by_model
from core.evaluation.coding import CodingTask, answer_text, system_prompt
from core.evaluation.label_sets import CoderLabels
from core.types.agreement import AcceptanceRate, GroupAgreement, ModelMetrics, PairAgreement
from core.types.classification import Coder, VerifyRule

VERIFIED, GOLD = "verified", "gold"
REVIEWER_PREFIX = "reviewer: "
RESAMPLES = 1000


@dataclass(frozen=True)
class AgreementReport:
    """Every agreement table of a dataset and codebook (n and CIs inside each value)."""

    humans: tuple[PairAgreement, ...]  # each pair of reviewers on texts both decided
    humans_group: GroupAgreement | None  # Fleiss' κ and Krippendorff's α, 2+ reviewers
    models_vs_verified: tuple[PairAgreement, ...]
    models: tuple[PairAgreement, ...]  # each pair of model coders
    models_group: GroupAgreement | None
    acceptance: tuple[AcceptanceRate, ...]
    multi_label: bool
    rule: VerifyRule


def _frozen(labels) -> frozenset[str]:
    return frozenset(str(code) for code in labels)


def _multi_label(dataset: str, codebook: str) -> bool:
    runs = context.store().codings.runs()
    mine = runs[(runs.dataset == dataset) & (runs.codebook == codebook)]
    return bool(mine.multi_label.any()) if not mine.empty else False


def coder_labels(
    dataset: str,
    codebook: str,
    rule: VerifyRule = VerifyRule.ONE,
    run_ids: list[str] | None = None,
) -> tuple[CoderLabels, list[str], list[str]]:
    """(every coder's labels, model coder names, reviewer coder names), with "verified" and
    "gold" among the coders when they have any text."""
    store = context.store()
    book = check_scope(dataset, codebook)
    labels: dict[str, dict[str, frozenset[str]]] = {}
    proposals = store.codings.proposals(dataset, codebook, run_ids)
    units = store.codings.units(dataset, codebook, run_ids)
    models = []
    for unit in units[units.status == "done"].itertuples():
        name = Coder(unit.run_id, unit.model, int(unit.shots)).label
        if name not in labels:
            models.append(name)
        labels.setdefault(name, {})[unit.text_id] = frozenset()
    for p in proposals.itertuples():
        name = Coder(p.run_id, p.model, int(p.shots)).label
        labels[name][p.text_id] = labels[name][p.text_id] | {p.label}
    active = store.reviews.active(dataset, codebook)
    reviewers = []
    for r in active[~active.unclear].itertuples():
        name = REVIEWER_PREFIX + r.reviewer
        if name not in labels:
            reviewers.append(name)
        labels.setdefault(name, {})[r.text_id] = _frozen(r.labels)
    verified = store.reviews.verified(dataset, codebook, rule)
    if not verified.empty:
        pairs = zip(verified.text_id, verified.labels, strict=True)
        labels[VERIFIED] = {t: _frozen(ls) for t, ls in pairs}
    gold: dict[str, frozenset[str]] = {}
    for row in store.datasets.gold(dataset).itertuples():
        code = book.resolve(row.label)
        if code is not None:
            gold[row.text_id] = gold.get(row.text_id, frozenset()) | {code}
    if gold:
        labels[GOLD] = gold
    return labels, models, reviewers


def agreement(
    dataset: str,
    codebook: str,
    rule: VerifyRule = VerifyRule.ONE,
    run_ids: list[str] | None = None,
    resamples: int = RESAMPLES,
) -> AgreementReport:
    book = context.store().codebooks.get(codebook)
    universe = [label.code for label in book.leaves]
    labels, models, reviewers = coder_labels(dataset, codebook, rule, run_ids)
    multi = _multi_label(dataset, codebook)
    options = {"multi_label": multi, "resamples": resamples}

    def pairs(coders: list[str]) -> tuple[PairAgreement, ...]:
        return (
            tuple(stats.pairwise_cohen(labels, coders, universe, **options))
            if len(coders) > 1
            else ()
        )

    def group(coders: list[str]) -> GroupAgreement | None:
        return (
            stats.group_agreement(labels, coders, universe, **options) if len(coders) > 1 else None
        )

    versus = ()
    if VERIFIED in labels:
        versus = tuple(
            stats.cohen_agreement(labels, m, VERIFIED, universe, **options) for m in models
        )
    return AgreementReport(
        humans=pairs(reviewers),
        humans_group=group(reviewers),
        models_vs_verified=versus,
        models=pairs(models),
        models_group=group(models),
        acceptance=acceptance(dataset, codebook, run_ids),
        multi_label=multi,
        rule=rule,
    )


def acceptance(
    dataset: str, codebook: str, run_ids: list[str] | None = None
) -> tuple[AcceptanceRate, ...]:
    """The share of each model coder's proposals that reviewers kept (Wilson 95 % CI)."""
    table = context.store().reviews.acceptance(dataset, codebook, run_ids)
    decisions = {
        Coder(r.run_id, r.model, int(r.shots)).label: [True] * int(r.accepted)
        + [False] * int(r.judged - r.accepted)
        for r in table.itertuples()
    }
    return tuple(stats.acceptance_rates(decisions))


def metrics(
    dataset: str,
    codebook: str,
    rule: VerifyRule = VerifyRule.ONE,
    run_ids: list[str] | None = None,
    against: str = VERIFIED,
    major: bool = False,
    resamples: int = RESAMPLES,
) -> tuple[ModelMetrics, ...]:
    """Each model coder's metrics against the verified (or gold) labels, per category too;
    `major` rolls every label up to its top parent first."""
    if against not in (VERIFIED, GOLD):
        raise InvalidRequest(
            f"Metrics are computed against verified or gold labels, not {against!r}."
        )
    book = context.store().codebooks.get(codebook)
    labels, models, _ = coder_labels(dataset, codebook, rule, run_ids)
    if against not in labels:
        raise InvalidRequest(
            f"Dataset {dataset!r} has no {against} labels of codebook {codebook!r} yet"
            + (": review some texts on the Review page first." if against == VERIFIED else ".")
        )
    if not models:
        raise InvalidRequest("No coding run has finished a text of this dataset and codebook.")
    parent_of = (
        {label.code: label.parent for label in book.labels if label.parent} if major else None
    )
    universe = [label.code for label in book.leaves]
    # Each coder is measured on the texts it tried (done or failed): a sampled run is not
    # charged with the rest of the dataset, and a text it failed on counts as unanswered.
    units = context.store().codings.units(dataset, codebook, run_ids)
    scopes: dict[str, list[str]] = {}
    for unit in units.itertuples():
        scopes.setdefault(Coder(unit.run_id, unit.model, int(unit.shots)).label, []).append(
            unit.text_id
        )
    return tuple(
        metrics_by_model(
            labels[against],
            {m: labels[m] for m in models},
            universe,
            models=models,
            multi_label=_multi_label(dataset, codebook),
            parent_of=parent_of,
            resamples=resamples,
            scopes=scopes,
        )
    )


def costs(dataset: str, codebook: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    """Per coder: texts coded, seconds per text (mean, n), texts per second, and money and
    energy per 1,000 texts on the saved hardware profile (machine kept busy)."""
    hw = preferences.hardware()
    speeds = context.store().codings.speeds(dataset, codebook, run_ids)
    rows = [
        {
            "coder": Coder(r.run_id, r.model, int(r.shots)).label,
            "texts": int(r.texts),
            "failed": int(r.failed),
            "seconds_per_text": float(r.seconds_per_text),
            "texts_per_second": 1.0 / float(r.seconds_per_text),
            "prompt_tokens": float(r.prompt_tokens or 0),
            f"cost_per_1000_texts_{hw.currency}": r.money_per_1000,
            "energy_kwh_per_1000_texts": r.energy_kwh_per_1000,
        }
        for r in with_costs(speeds, hw).itertuples()
        if r.texts
    ]
    return pd.DataFrame(rows)


def parameters_millions(size_label: str | None) -> float | None:
    """A GGUF size label as millions of parameters: "135M" -> 135, "1.5B" -> 1500,
    "8x7B" -> 56000; None when there is no label or it says something else."""
    found = re.fullmatch(r"(?:(\d+)x)?(\d+(?:\.\d+)?)([KMBT])", str(size_label or "").strip())
    if not found:
        return None
    experts, number, unit = found.groups()
    return int(experts or 1) * float(number) * {"K": 1e-3, "M": 1, "B": 1e3, "T": 1e6}[unit]


def model_sizes(dataset: str, codebook: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    """Per model coder: its model file's size in MB and its parameters in millions (from the
    size label the file declares; None when it declares none), as the models table keeps
    them, so a model since removed from the models folder still has its size."""
    files = context.store().codings.model_files(dataset, codebook, run_ids)
    return pd.DataFrame(
        {
            "coder": [Coder(r.run_id, r.model, int(r.shots)).label for r in files.itertuples()],
            "model": list(files.model),
            "file_size_mb": [None if pd.isna(b) else b / 1e6 for b in files.file_size],
            "size_label": list(files.size_label),
            "parameters_m": [parameters_millions(s) for s in files.size_label],
        },
        columns=["coder", "model", "file_size_mb", "size_label", "parameters_m"],
    )


def verified_table(dataset: str, codebook: str, rule: VerifyRule = VerifyRule.ONE) -> pd.DataFrame:
    """The verified set: text id, text, label codes and names (";"-joined), intensities,
    reviewers and when it was verified."""
    store = context.store()
    book = check_scope(dataset, codebook)
    verified = store.reviews.verified(dataset, codebook, rule)
    texts = {t.id: t.text for t in store.datasets.texts(dataset, list(verified.text_id))}
    return pd.DataFrame(
        {
            "text_id": verified.text_id,
            "text": [texts[t] for t in verified.text_id],
            "labels": [";".join(ls) for ls in verified.labels],
            "label_names": [";".join(book.label(c).name for c in ls) for ls in verified.labels],
            "intensities": [";".join(i or "" for _, i in pairs) for pairs in verified.intensities],
            "reviewers": [";".join(rs) for rs in verified.reviewers],
            "verified_at": verified.verified_at,
        }
    )


def finetune_records(dataset: str, codebook: str, rule: VerifyRule = VerifyRule.ONE) -> list[dict]:
    """The verified set as chat conversations, each the zero-shot coding prompt followed by the
    verified answer, ready for fine-tuning."""
    book = context.store().codebooks.get(codebook)
    table = verified_table(dataset, codebook, rule)
    task = CodingTask(book, multi_label=_multi_label(dataset, codebook))
    system = system_prompt(task)
    return [
        {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": f"Text: {text}"},
                {"role": "assistant", "content": answer_text(task, tuple(codes.split(";")))},
            ]
        }
        for text, codes in zip(table.text, table.labels, strict=True)
        if codes
    ]


def table_bytes(table: pd.DataFrame | list[dict], fmt: str) -> bytes:
    """A table as the bytes of a CSV, Parquet or JSONL file: what `export` writes, built in
    memory for a download button."""
    if fmt == "jsonl":
        rows = table if isinstance(table, list) else table.to_dict(orient="records")
        text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
        return text.encode("utf-8")
    if fmt == "parquet":
        buffer = io.BytesIO()
        pd.DataFrame(table).to_parquet(buffer, index=False)
        return buffer.getvalue()
    if fmt == "csv":
        return pd.DataFrame(table).to_csv(index=False).encode("utf-8")
    raise InvalidRequest(f"Tables are written as csv, parquet or jsonl, not {fmt!r}.")


def agreement_frame(report: AgreementReport) -> pd.DataFrame:
    """Every pair of the report (reviewers, models against verified, models) as one table."""
    return stats.pair_table([*report.humans, *report.models_vs_verified, *report.models])


def metrics_frame(found: tuple[ModelMetrics, ...]) -> pd.DataFrame:
    """Each model's overall metrics (label "all") followed by its per-category ones."""
    from core.evaluation.classification_metrics import category_table, overall_table

    return pd.concat(
        [overall_table(found).assign(label="all"), category_table(found)], ignore_index=True
    )


def _write(table: pd.DataFrame | list[dict], out: Path, fmt: str, force: bool) -> int:
    """Write through output_files.replacing: never onto the store, never over an existing
    file unless asked, never half a file."""
    data = table_bytes(table, fmt)
    with output_files.replacing(out, force) as tmp:
        tmp.write_bytes(data)
    return len(table)


def export(
    dataset: str,
    codebook: str,
    what: str,
    out: Path,
    fmt: str = "csv",
    rule: VerifyRule = VerifyRule.ONE,
    run_ids: list[str] | None = None,
    force: bool = False,
    against: str = VERIFIED,
) -> int:
    """Write the verified set (csv, parquet, jsonl), the fine-tuning conversations (jsonl),
    or the agreement or metric tables (metrics against `against`); returns the rows
    written."""
    if what == "finetune":
        if fmt != "jsonl":
            raise InvalidRequest(
                "Fine-tuning data is written as chat-format JSONL (--format jsonl)."
            )
        return _write(finetune_records(dataset, codebook, rule), out, fmt, force)
    if what == "verified":
        table = verified_table(dataset, codebook, rule)
    elif what == "agreement":
        table = agreement_frame(agreement(dataset, codebook, rule, run_ids))
    elif what == "metrics":
        table = metrics_frame(metrics(dataset, codebook, rule, run_ids, against))
    else:
        raise InvalidRequest(
            f"Nothing called {what!r} to export: verified, finetune, agreement or metrics."
        )
    return _write(table, out, fmt, force)
