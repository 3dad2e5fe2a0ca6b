"""Store layer: the DuckDB file and every SQL statement in the project, grouped by what it
stores. It takes and returns records (and DataFrames for tables of numbers) and imports no
evaluation, ranking or app module.

    store = Store(path)
    store.runs.get(run_id)            runs and their lifecycle
    store.items.pending(run_id)       a run's units and their judgments
    store.judges.counts(run_id)       the evidence about each judge's reliability
    store.generations.save(gen)       model outputs
    store.suites.questions(name)      question suites
    store.votes.record(...)           arena votes
    store.models.upsert(info)         model files
    store.aggregates.performance()    the Trade-offs and Costs queries
    store.preferences.get(name)       choices kept across sessions (hardware profile)
    store.likelihood.units(run_id)    likelihood runs' scored choices and reference answers
    store.ladders.rungs(run_id)       quantization ladders' measured models
    store.datasets.texts(name)        classification datasets and their gold labels
    store.codebooks.get(name)         codebooks and their labels
    store.codings.proposals(...)      labels models proposed in coding runs
    store.reviews.queue(...)          reviewers' decisions, the review queue, verified labels
    store.finetune.steps(run_id)      fine-tuning runs' loss curves and validation losses
    store.curves.aggregate(run_id)    learning curves' points, averaged over repeats
    store.loadtests.levels(run_id)    load tests' levels, aggregated from every request
"""

from __future__ import annotations

from pathlib import Path

from core.store.aggregates import Aggregates
from core.store.classification import CodebookTable, DatasetTable
from core.store.codings import CodingTable
from core.store.curves import CurveTable
from core.store.database import Database
from core.store.duck import scalar
from core.store.export import EXPORTABLE_TABLES, FORMATS, export_table
from core.store.finetune import FinetuneTable
from core.store.generations import GenerationTable
from core.store.items import ItemTable
from core.store.judges import JudgeTable
from core.store.ladders import LadderTable
from core.store.likelihood import LikelihoodTable
from core.store.loadtests import LoadTestTable
from core.store.models import ModelTable
from core.store.preferences import PreferenceTable
from core.store.reviews import ReviewTable
from core.store.runs import RunTable
from core.store.suites import SuiteTable
from core.store.votes import VoteTable

__all__ = ["EXPORTABLE_TABLES", "FORMATS", "Store"]


class Store:
    """A path to a DuckDB file; holds no connection between operations."""

    def __init__(self, path: str | Path, lock_timeout_s: float = 10.0):
        self.db = Database(path, lock_timeout_s)
        self.models = ModelTable(self.db)
        self.runs = RunTable(self.db)
        self.items = ItemTable(self.db)
        self.judges = JudgeTable(self.db)
        self.generations = GenerationTable(self.db)
        self.suites = SuiteTable(self.db)
        self.votes = VoteTable(self.db)
        self.aggregates = Aggregates(self.db)
        self.preferences = PreferenceTable(self.db)
        self.likelihood = LikelihoodTable(self.db)
        self.ladders = LadderTable(self.db)
        self.datasets = DatasetTable(self.db)
        self.codebooks = CodebookTable(self.db)
        self.codings = CodingTable(self.db)
        self.reviews = ReviewTable(self.db)
        self.finetune = FinetuneTable(self.db)
        self.curves = CurveTable(self.db)
        self.loadtests = LoadTestTable(self.db)

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def read_only(self) -> bool:
        """The file or its folder cannot be written: it is opened read-only."""
        return self.db.read_only

    @property
    def read_only_reason(self) -> str | None:
        return self.db.read_only_reason

    def init(self, write: bool = False) -> int:
        """Create or migrate the schema; returns the schema version. Fails early on a locked,
        newer or unusable database, and with `write` on a read-only one (StoreReadOnly),
        before any expensive work."""
        with self.db.connect() as con:
            version = scalar(con, "SELECT max(version) FROM schema_version")
        if write and self.db.read_only:
            raise self.db.read_only_error()
        return version

    def export(self, table: str, out: str | Path, fmt: str) -> int:
        return export_table(self.db, table, out, fmt)
