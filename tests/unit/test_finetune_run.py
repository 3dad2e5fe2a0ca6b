"""A fine-tuning run's life (core/evaluation/finetune_run.py) with a scripted trainer in place
of torch: planning and its refusals, the steps and validation losses stored, stop, resume
from the last checkpoint (later steps forgotten and redone), the adapter folder and its
manifest, and deletion. The real trainer is exercised in tests/real_model/test_lora_real.py."""

import dataclasses
import json
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.app import finetune, runs
from core.engine.fake import FAKE_INFO
from core.engine.lora_trainer import (
    CHECKPOINT_PREFIX,
    STATE_FILE,
    batch_of,
    latest_checkpoint,
    total_steps,
)
from core.errors import InvalidRequest
from core.evaluation.finetune_run import (
    checkpoint_folder,
    create_finetune,
    plan_finetune,
    plan_finetune_on,
    run_finetune,
)
from core.evaluation.lifecycle import RunStopped
from core.types import RunStatus
from core.types.classification import Codebook, CodebookLabel, LabelValue, TextRecord
from core.types.finetune import (
    FinetuneSpec,
    FinetuneStep,
    FinetuneValidation,
    LoraSettings,
)
from core.types.learning import LabelSource

BOOK = Codebook("fruit", (CodebookLabel("A", "Apples"), CodebookLabel("B", "Bananas")))
MODEL = dataclasses.replace(FAKE_INFO, architecture="llama")
SETTINGS = LoraSettings(batch_size=2, epochs=2, checkpoint_every=2, validation_share=0.2)


class WordTokens:
    def prompt(self, conversation):
        return [1] + [len(w) for m in conversation for w in m["content"].split()]

    def answer(self, text):
        return [len(w) for w in text.split()]

    end = 2


@contextmanager
def word_tokens(model):
    yield WordTokens()


class ScriptedTrainer:
    """Steps as the real trainer schedules them (batch_of), loss 1/step, checkpoints as
    folders; after `stop_after` steps it calls `stop()`, which asks to stop and raises
    RunStopped as the worker's SIGTERM handler would."""

    def __init__(self, folder: Path, settings: LoraSettings, stop_after=None, stop=None):
        self.folder, self.settings = folder, settings
        self.stop_after, self.stop = stop_after, stop
        self.done = 0
        self.batches: list[list[str]] = []

    def prepare(self) -> int:
        found = latest_checkpoint(self.folder)
        self.done = found[0] if found else 0
        return self.done

    def train(self, train, validation, on_step, on_validation, check_stop):
        total = total_steps(len(train), self.settings)
        for step in range(self.done + 1, total + 1):
            check_stop()
            epoch, picked = batch_of(step, len(train), self.settings)
            self.batches.append([train[i].text_id for i in picked])
            tokens = sum(len(train[i].input_ids) for i in picked)
            self.done = step
            on_step(FinetuneStep(step, epoch, 1.0 / step, tokens, 0.5))
            if step % self.settings.checkpoint_every == 0 or step == total:
                saved = self.folder / f"{CHECKPOINT_PREFIX}{step:06d}"
                saved.mkdir(parents=True)
                (saved / STATE_FILE).write_text("state")
                on_validation(self.validation_loss(validation))
            if self.stop_after == step:
                self.stop()

    def validation_loss(self, examples):
        return FinetuneValidation(self.done, 10.0 / self.done, len(examples))

    def write_gguf(self, out: Path) -> None:
        out.write_bytes(b"GGUF adapter")


def _texts() -> list[TextRecord]:
    return [
        TextRecord(
            f"t{i:02d}",
            f"text number {i} about {'apples' if i % 2 else 'bananas'}",
            (LabelValue("A" if i % 2 else "B"),),
        )
        for i in range(10)
    ]


@pytest.fixture
def fruit(fake_mode, store):
    store.init()
    store.datasets.save("fruit", "memory", _texts())
    store.codebooks.save(BOOK, "memory")
    return store


def _spec(**changes) -> FinetuneSpec:
    base = dict(
        name="fruity",
        dataset="fruit",
        codebook="fruit",
        model=MODEL,
        source=LabelSource.GOLD,
        settings=SETTINGS,
    )
    return FinetuneSpec(**{**base, **changes})


def _work(store, run_id, trainer_box, tmp_path, stop_after=None, on_progress=None):
    def stop():
        store.runs.request_stop(run_id)  # as Stop does, before it signals the worker
        raise RunStopped

    def open_trainer(model, settings, folder):
        trainer_box.append(ScriptedTrainer(folder, settings, stop_after, stop))
        return trainer_box[-1]

    return run_finetune(
        store,
        run_id,
        MODEL,
        word_tokens,
        open_trainer,
        tmp_path / "adapters",
        tmp_path / "checkpoints",
        on_progress,
    )


def test_a_plan_splits_the_labelled_texts_seeded(fruit, tmp_path):
    config = plan_finetune(fruit, _spec(), tmp_path / "adapters")
    assert (len(config.train_ids), len(config.validation_ids)) == (8, 2)
    assert not set(config.train_ids) & set(config.validation_ids)
    again = plan_finetune(fruit, _spec(), tmp_path / "adapters")
    assert again == config
    smaller = plan_finetune(fruit, _spec(train_size=3), tmp_path / "adapters")
    # The probe split's rule: a smaller training set is a prefix of the seeded pool order.
    assert smaller.train_ids == config.train_ids[:3]
    assert smaller.validation_ids == config.validation_ids
    assert smaller.data_hash != config.data_hash


@pytest.mark.parametrize("name", ["", "a/b", "..", ".hidden", "base+lora", "a b", "x" * 81])
def test_names_that_cannot_be_folder_or_model_names_are_refused(fruit, tmp_path, name):
    with pytest.raises(InvalidRequest, match="cannot name an adapter"):
        plan_finetune(fruit, _spec(name=name), tmp_path / "adapters")


def test_an_unsupported_architecture_or_an_existing_adapter_is_refused(fruit, tmp_path):
    with pytest.raises(InvalidRequest, match="fake model"):
        plan_finetune(fruit, _spec(model=FAKE_INFO), tmp_path / "adapters")
    (tmp_path / "adapters" / "fruity").mkdir(parents=True)
    with pytest.raises(InvalidRequest, match="exists already"):
        plan_finetune(fruit, _spec(), tmp_path / "adapters")
    assert plan_finetune(fruit, _spec(replace=True), tmp_path / "adapters")


def test_a_run_stores_every_step_and_writes_the_adapter_with_its_manifest(fruit, tmp_path):
    run_id = create_finetune(fruit, plan_finetune(fruit, _spec(), tmp_path / "adapters"))
    assert fruit.runs.get(run_id).total_units == 8  # 8 texts, batch 2, 2 epochs
    trainers = []
    assert _work(fruit, run_id, trainers, tmp_path) == RunStatus.COMPLETED
    steps = fruit.finetune.steps(run_id)
    assert [s.step for s in steps] == list(range(1, 9))
    assert [s.epoch for s in steps] == [1, 1, 1, 1, 2, 2, 2, 2]
    # Each epoch shows every training text once.
    config = fruit.runs.get(run_id).config
    for epoch in (trainers[0].batches[:4], trainers[0].batches[4:]):
        assert sorted(t for batch in epoch for t in batch) == sorted(config.train_ids)
    assert [v.step for v in fruit.finetune.validations(run_id)] == [2, 4, 6, 8]
    folder = tmp_path / "adapters" / "fruity"
    assert (folder / "adapter.gguf").read_bytes() == b"GGUF adapter"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["steps"] == 8 and manifest["train_size"] == 8
    assert manifest["tokens_trained"] == sum(s.tokens for s in steps)
    assert manifest["train_seconds"] == 8 * 0.5
    assert manifest["validation_loss"] == 10.0 / 8
    # The mean training loss over the last epoch: steps 5 to 8 at 1/step.
    assert manifest["final_train_loss"] == pytest.approx((1 / 5 + 1 / 6 + 1 / 7 + 1 / 8) / 4)
    assert manifest["base_sha256"] == MODEL.sha256 and manifest["run_id"] == run_id
    assert not checkpoint_folder(tmp_path / "checkpoints", run_id).exists()
    assert [p.name for p in (tmp_path / "adapters").iterdir()] == ["fruity"]


def test_a_stopped_run_resumes_from_its_last_checkpoint_and_redoes_later_steps(fruit, tmp_path):
    run_id = create_finetune(fruit, plan_finetune(fruit, _spec(), tmp_path / "adapters"))
    trainers = []
    with pytest.raises(RunStopped):
        _work(fruit, run_id, trainers, tmp_path, stop_after=3)
    assert fruit.runs.get(run_id).status == RunStatus.STOPPED
    assert [s.step for s in fruit.finetune.steps(run_id)] == [1, 2, 3]
    fruit.runs.requeue(run_id)
    reports = []
    status = _work(fruit, run_id, trainers, tmp_path, on_progress=lambda *r: reports.append(r))
    assert status == RunStatus.COMPLETED
    assert reports[0] == (2, 8, None)  # back at the checkpoint before anything is redone
    assert reports[1] == (3, 8, 0.5 * 5)  # 0.5 s a step measured, 5 steps left
    # Step 3 came after the step-2 checkpoint: forgotten, then done again.
    assert trainers[1].batches[0] == trainers[0].batches[2]
    steps = fruit.finetune.steps(run_id)
    assert [(s.step, s.loss) for s in steps] == [(n, 1.0 / n) for n in range(1, 9)]
    assert [v.step for v in fruit.finetune.validations(run_id)] == [2, 4, 6, 8]


def test_state_reports_steps_done_and_time_left_at_the_measured_pace(fruit, tmp_path):
    run_id = create_finetune(fruit, plan_finetune(fruit, _spec(), tmp_path / "adapters"))
    with pytest.raises(RunStopped):
        _work(fruit, run_id, [], tmp_path, stop_after=3)
    state = finetune.state(run_id)
    assert (state.done, state.total, state.status) == (3, 8, RunStatus.STOPPED)
    assert state.eta_s is None  # nothing is running
    overview = runs.overview(kinds=runs.WORKER_KINDS)
    row = overview[overview.id == run_id].iloc[0]
    assert (row.items_done, row.total) == (3, 8)


def test_changed_labels_fail_the_run_rather_than_train_on_other_data(fruit, tmp_path):
    run_id = create_finetune(fruit, plan_finetune(fruit, _spec(), tmp_path / "adapters"))
    relabelled = [dataclasses.replace(t, gold=(LabelValue("A"),)) for t in _texts()]
    fruit.datasets.save("fruit", "memory", relabelled, replace=True)
    with pytest.raises(InvalidRequest, match="labels of this run's texts changed"):
        _work(fruit, run_id, [], tmp_path)
    assert fruit.runs.get(run_id).status == RunStatus.FAILED


def test_a_second_run_cannot_target_the_name_an_unfinished_run_writes(fruit, tmp_path):
    run_id = create_finetune(fruit, plan_finetune(fruit, _spec(), tmp_path / "adapters"))
    with pytest.raises(InvalidRequest, match=f"Run {run_id} \\(queued\\) writes"):
        plan_finetune(fruit, _spec(replace=True), tmp_path / "adapters")


def test_deleting_a_run_removes_its_steps_and_checkpoints(fruit, tmp_path, monkeypatch):
    monkeypatch.setattr(finetune, "checkpoints_root", lambda: tmp_path / "checkpoints")
    run_id = create_finetune(fruit, plan_finetune(fruit, _spec(), tmp_path / "adapters"))
    with pytest.raises(RunStopped):
        _work(fruit, run_id, [], tmp_path, stop_after=3)
    assert latest_checkpoint(checkpoint_folder(tmp_path / "checkpoints", run_id))[0] == 2
    runs.delete_run(run_id)
    assert fruit.finetune.steps(run_id) == [] and fruit.finetune.validations(run_id) == []
    assert not checkpoint_folder(tmp_path / "checkpoints", run_id).exists()


def test_explicit_texts_must_carry_labels_of_the_source(fruit, tmp_path):
    config = plan_finetune_on(fruit, _spec(), tmp_path / "adapters", ("t01", "t02"), ("t03",))
    assert (config.train_ids, config.validation_ids) == (("t01", "t02"), ("t03",))
    with pytest.raises(InvalidRequest, match="1 given have none"):
        plan_finetune_on(fruit, _spec(), tmp_path / "adapters", ("t01", "nope"))


def test_training_on_given_texts_resumes_the_same_interrupted_run(fruit, tmp_path, monkeypatch):
    """finetune.train_adapter, as a learning curve calls it: an identical request after an
    interruption continues the same run from its checkpoint; a different one is refused."""
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(finetune, "_coding_tokens", word_tokens)
    trainers, stops = [], [3]

    def open_trainer(model, settings, folder):
        def stop():
            fruit.runs.request_stop(fruit.finetune.runs_writing("fruity")[0][0])
            raise RunStopped

        trainers.append(ScriptedTrainer(folder, settings, stops.pop() if stops else None, stop))
        return trainers[-1]

    monkeypatch.setattr(finetune, "_open_trainer", open_trainer)
    ask = dict(source=LabelSource.GOLD, settings=SETTINGS)
    train_ids = ("t01", "t02", "t03", "t04")
    with pytest.raises(RunStopped):
        finetune.train_adapter("fruity", "fruit", "fruit", MODEL, train_ids, ("t05",), **ask)
    [(run_id, status)] = fruit.finetune.runs_writing("fruity")
    assert status == RunStatus.STOPPED
    with pytest.raises(InvalidRequest, match=f"Run {run_id} \\(stopped\\) writes"):
        finetune.train_adapter("fruity", "fruit", "fruit", MODEL, train_ids[:3], **ask)
    manifest = finetune.train_adapter("fruity", "fruit", "fruit", MODEL, train_ids, ("t05",), **ask)
    assert manifest.run_id == run_id and manifest.steps == 4  # 4 texts, batch 2, 2 epochs
    assert trainers[-1].batches[0] == trainers[0].batches[2]  # step 3 again, from step 2
    assert [s.step for s in fruit.finetune.steps(run_id)] == [1, 2, 3, 4]
    assert finetune.adapter_manifest("fruity") == manifest


def test_an_adapters_held_out_metrics_are_kept_in_its_manifest(tmp_path):
    from dataclasses import replace

    from core.evaluation.adapter_files import read_adapter, record_metrics, write_adapter_folder
    from core.types.agreement import MetricValue
    from core.types.finetune import AdapterManifest, LoraSettings

    manifest = AdapterManifest(
        "tuned", "base", "0" * 64, "llama", "d", "c", ("A", "B"), "h", 8, 0, LoraSettings(),
        2, 100, 1.0, 2.0, 10.0, 0.5, None, "run", "2026-01-01T00:00:00+00:00",
    )  # fmt: skip
    write_adapter_folder(tmp_path, manifest, lambda path: path.write_bytes(b"GGUF"), False)
    accuracy = MetricValue(0.75, 0.6, 0.9, 40)
    record_metrics(tmp_path, "tuned", {"accuracy": accuracy, "hamming_loss": accuracy})
    kept = read_adapter(tmp_path / "tuned")
    assert kept.metrics == {"accuracy": accuracy}  # headline figures only
    assert replace(kept, metrics={}) == manifest  # nothing else changed
    assert not [p.name for p in (tmp_path / "tuned").iterdir() if p.name.startswith(".")]
