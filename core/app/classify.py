"""Use cases of the classification workbench shared by the CLI and the pages: datasets and
codebooks, coding runs, and the review queue. Agreement, metrics and exports are in
core/app/classify_results.py. Stop, resume and delete of coding runs are the benchmark's
own (core/app/runs.py): the same worker runs them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.app import context, worker
from core.app.preferences import hardware
from core.engine.model_folder import printable
from core.errors import InvalidRequest
from core.evaluation.coding_run import create_coding_run, plan_coding
from core.types import AnswerCost, HardwareProfile
from core.types.classification import (
    Codebook,
    Coder,
    CoderProposal,
    CodingSpec,
    DatasetColumns,
    LabelValue,
    ProposedLabel,
    QueueItem,
    Review,
    ReviewProgress,
    VerifyRule,
)
from core.types.text import check_text

MAX_REVIEWER_NAME = 60


def import_dataset(
    path: Path,
    name: str,
    columns: DatasetColumns,
    skip_invalid: bool = False,
    replace: bool = False,
    source: str | None = None,
    sheet: str | None = None,
) -> tuple[int, list]:
    """Import a table of texts; returns (texts stored, rows skipped)."""
    from core.evaluation.classification_import import load_dataset

    name = _name(name, "dataset")
    texts, errors = load_dataset(path, columns, skip_invalid, source=source, sheet=sheet)
    stored = context.store().datasets.save(name, printable(source or str(path)), texts, replace)
    return stored, errors


def import_codebook(
    path: Path, name: str, skip_invalid: bool = False, replace: bool = False, source=None
) -> tuple[int, list]:
    from core.evaluation.codebook_import import load_codebook

    name = _name(name, "codebook")
    codebook, errors = load_codebook(path, name, skip_invalid, source=source)
    return context.store().codebooks.save(codebook, printable(source or str(path)), replace), errors


def save_codebook(codebook: Codebook, replace: bool = False) -> int:
    """A codebook written on the page (already validated by codebook_from_rows)."""
    return context.store().codebooks.save(codebook, "written on the page", replace)


def _name(name: str, what: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidRequest(f"Give the {what} a name.")
    return check_text(name, f"The {what} name")


def check_scope(dataset: str, codebook_name: str) -> Codebook:
    """The codebook, once the dataset and the codebook are both known; a clear error when
    either is not (a report on an unknown name would otherwise be empty, not wrong)."""
    store = context.store()
    if dataset not in store.datasets.names():
        raise InvalidRequest(f"No dataset named {dataset!r}; import it first.")
    return store.codebooks.get(codebook_name)


def check_runs(dataset: str, codebook_name: str, run_ids: list[str] | None) -> None:
    """Each id a coding run of this dataset and codebook: a report limited to a mistyped id
    would otherwise quietly cover nothing."""
    if not run_ids:
        return
    table = context.store().codings.runs()
    ours = set(table.id[(table.dataset == dataset) & (table.codebook == codebook_name)])
    unknown = [run_id for run_id in run_ids if run_id not in ours]
    if unknown:
        raise InvalidRequest(
            f"No coding run of dataset {dataset!r} with codebook {codebook_name!r} has id "
            f"{', '.join(unknown)}; see them with `perfics classify run --list`."
        )


def datasets() -> pd.DataFrame:
    return context.store().datasets.overview()


def codebooks() -> pd.DataFrame:
    return context.store().codebooks.overview()


def codebook(name: str) -> Codebook:
    return context.store().codebooks.get(name)


def delete_dataset(name: str) -> None:
    context.store().datasets.delete(name)


def delete_codebook(name: str) -> None:
    context.store().codebooks.delete(name)


def plan(spec: CodingSpec) -> tuple[int, int, float | None]:
    """(texts, units, seconds expected from earlier coding of this codebook by these
    models, None when some model has none) for the run `spec` asks for."""
    store = context.store()
    config, units = plan_coding(store, spec)
    speeds = store.codings.speeds(spec.dataset, spec.codebook)
    seconds = 0.0
    for model in config.model_names:
        mine = speeds[(speeds.model == model) & (speeds.texts > 0)]
        if mine.empty:
            return len(config.text_ids), len(units), None
        seconds += float(mine.seconds_per_text.mean()) * len(config.text_ids)
    return len(config.text_ids), len(units), seconds


def create(spec: CodingSpec) -> str:
    from core.engine.llama import llama_cpp_version

    return create_coding_run(context.store(), spec, llama_cpp_version())


def start(spec: CodingSpec) -> str:
    """Create the coding run and hand it to a background worker; returns its id."""
    run_id = create(spec)
    worker.launch(run_id)
    return run_id


def runs() -> pd.DataFrame:
    return context.store().codings.runs()


def coders(dataset: str, codebook_name: str) -> list[Coder]:
    """Every model of every coding run on this dataset and codebook with a finished unit."""
    speeds = context.store().codings.speeds(dataset, codebook_name)
    return [Coder(r.run_id, r.model, int(r.shots)) for r in speeds.itertuples() if r.texts > 0]


def proposals(dataset: str, codebook_name: str, run_ids: list[str] | None = None) -> pd.DataFrame:
    return context.store().codings.proposals(dataset, codebook_name, run_ids)


def queue(
    dataset: str,
    codebook_name: str,
    reviewer: str,
    rule: VerifyRule = VerifyRule.ONE,
    run_ids: list[str] | None = None,
    order: str = "disagreement",
    label: str | None = None,
    model: str | None = None,
    limit: int = 20,
) -> list[QueueItem]:
    """The next texts for `reviewer`, each with every coder's proposals (see
    ReviewTable.queue for the order and who sees what)."""
    store = context.store()
    reviewer = check_reviewer(reviewer)
    waiting = store.reviews.queue(
        dataset, codebook_name, reviewer, rule, run_ids, order, label, model, limit
    )
    if waiting.empty:
        return []
    proposed = store.codings.proposals(dataset, codebook_name, run_ids)
    proposed = proposed[proposed.text_id.isin(set(waiting.text_id))]
    by_text: dict[str, list[CoderProposal]] = {}
    for (text_id, run_id, model, shots), rows in proposed.groupby(
        ["text_id", "run_id", "model", "shots"], sort=False
    ):
        labels = tuple(
            ProposedLabel(
                r.label,
                None if pd.isna(r.confidence) else float(r.confidence),
                None if pd.isna(r.intensity) else r.intensity,
            )
            for r in rows.sort_values("position").itertuples()
        )
        by_text.setdefault(text_id, []).append(
            CoderProposal(Coder(run_id, model, int(shots)), labels)
        )
    return [
        QueueItem(
            r.text_id,
            r.text,
            tuple(by_text.get(r.text_id, ())),
            int(r.distinct_labels),
            None if pd.isna(r.min_confidence) else float(r.min_confidence),
            bool(r.assigned),
        )
        for r in waiting.itertuples()
    ]


def check_reviewer(reviewer: str) -> str:
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise InvalidRequest("Enter your name as reviewer first: every decision is stored with it.")
    if len(reviewer) > MAX_REVIEWER_NAME:
        raise InvalidRequest(f"A reviewer name has at most {MAX_REVIEWER_NAME} characters.")
    return reviewer


def decide(
    dataset: str,
    codebook_name: str,
    text_id: str,
    reviewer: str,
    labels: list[LabelValue],
    unclear: bool = False,
    note: str = "",
) -> str:
    """Store a reviewer's decision on a text: the labels they accept (proposed or added), or
    unclear. Labels must be the codebook's; returns the decision's id."""
    store = context.store()
    book = store.codebooks.get(codebook_name)
    known = set(book.codes)
    unknown = [v.code for v in labels if v.code not in known]
    if unknown:
        raise InvalidRequest(f"Not labels of codebook {codebook_name!r}: {', '.join(unknown)}.")
    if not labels and not unclear:
        raise InvalidRequest("Accept or add at least one label, or mark the text unclear.")
    if len({v.code for v in labels}) != len(labels):
        raise InvalidRequest("A label is listed twice.")
    review = Review(
        dataset, codebook_name, text_id, check_reviewer(reviewer), tuple(labels), unclear, note
    )
    return store.reviews.record(review)


def undo(dataset: str, codebook_name: str, reviewer: str) -> str | None:
    """Withdraw the reviewer's last decision (it stays on record as undone); returns the
    text it was about, which goes back into their queue."""
    return context.store().reviews.undo_last(dataset, codebook_name, check_reviewer(reviewer))


def assign(
    dataset: str, codebook_name: str, reviewers: list[str], count: int, seed: int = 0
) -> int:
    """Assign a seeded sample of `count` coded texts to every one of `reviewers` (at least
    two), blind to each other, for agreement; returns new assignments."""
    import random

    names = sorted({check_reviewer(r) for r in reviewers})
    if len(names) < 2:
        raise InvalidRequest("Double coding needs at least two different reviewers.")
    coded = sorted(set(context.store().codings.proposals(dataset, codebook_name).text_id))
    if not coded:
        raise InvalidRequest("No text of this dataset has been coded yet; run a coding run first.")
    chosen = random.Random(seed).sample(coded, min(count, len(coded)))
    return context.store().reviews.assign(dataset, codebook_name, chosen, names)


def review_stats(
    dataset: str, codebook_name: str, rule: VerifyRule = VerifyRule.ONE
) -> ReviewProgress:
    """How far review has come: coded texts, texts with a decision, unclear ones, verified
    ones under `rule`, decisions per reviewer, and assigned texts."""
    store = context.store()
    check_scope(dataset, codebook_name)
    active = store.reviews.active(dataset, codebook_name)
    coded = set(store.codings.proposals(dataset, codebook_name).text_id)
    return ReviewProgress(
        coded_texts=len(coded),
        reviewed_texts=int(active.text_id.nunique()),
        unclear_texts=int(active[active.unclear].text_id.nunique()),
        verified_texts=len(store.reviews.verified(dataset, codebook_name, rule)),
        rule=rule,
        decisions_by_reviewer={k: int(v) for k, v in active.groupby("reviewer").size().items()},
        assigned_texts=int(store.reviews.assignments(dataset, codebook_name).text_id.nunique()),
    )


def with_costs(speeds: pd.DataFrame, hw: HardwareProfile) -> pd.DataFrame:
    """Adds to coders' measured speeds (CodingsTable.speeds) what 1,000 texts cost and draw
    on `hw` (money_per_1000, energy_kwh_per_1000; None for a coder with no text coded): the
    cost model the Trade-offs page ranks by (AnswerCost.money_per_1000, a machine kept busy).
    The one place the workbench prices a coder."""
    costs = [
        AnswerCost(float(s), 0.0, 0.0, int(n)) if pd.notna(s) else None
        for s, n in zip(speeds.seconds_per_text, speeds.texts, strict=True)
    ]
    speeds["money_per_1000"] = [c.money_per_1000(hw) if c else None for c in costs]
    speeds["energy_kwh_per_1000"] = [c.energy_kwh_per_1000(hw) if c else None for c in costs]
    return speeds


def coding_costs() -> tuple[pd.DataFrame, str]:
    """Per coder (a model in a coding run) of every dataset and codebook: texts coded,
    measured seconds per text, and `with_costs` on the saved hardware profile. Returns the
    table and its currency."""
    hw = hardware()
    pairs = runs()[["dataset", "codebook"]].drop_duplicates()
    frames = []
    for dataset, codebook in pairs.itertuples(index=False):
        speeds = context.store().codings.speeds(dataset, codebook)
        speeds.insert(0, "codebook", codebook)
        speeds.insert(0, "dataset", dataset)
        frames.append(speeds)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if table.empty:
        return table, hw.currency
    return with_costs(table, hw), hw.currency
