"""AppTest for the Fine-tune page (issue 13) on the fake backend. Training itself needs torch
and a real model (tests/real_model/test_lora_real.py); here: the form and its plan, a run
started from it (handed to a recorded, not a real, worker), the install hint when the [train]
packages are missing, a run's progress and loss curve drawn from ft_steps rows written through
the store API, its Stop / Resume / Delete, and deleting an adapter."""

import json
import os

import pytest

from core.app import context, finetune, worker
from core.engine import training_packages
from core.errors import TRAIN_EXTRA_INSTALL
from core.evaluation.finetune_run import create_finetune, plan_finetune
from core.types import RunStatus
from core.types.finetune import FinetuneSpec, FinetuneStep, FinetuneValidation, LoraSettings
from core.types.learning import LabelSource
from tests.lora_support import SMOLLM2_FILE, TUNED, linked_models, write_adapter
from tests.support import SMOLLM2
from tests.unit.curve_support import fill


@pytest.fixture(autouse=True)
def fruit(fake_mode, store, monkeypatch):
    """60 texts with gold labels (20 of each of 3 labels) and their codebook, "fruit"."""
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # what require_training() would set
    fill(store)
    return store


@pytest.fixture
def launched(monkeypatch) -> list[str]:
    """Runs handed to a worker; none really starts (training cannot run on the fake backend)."""
    started: list[str] = []

    def launch(run_id: str) -> int:
        started.append(run_id)
        return os.getpid()

    monkeypatch.setattr(worker, "launch", launch)
    return started


def _shown(at) -> str:
    return " ".join(m.value for m in [*at.markdown, *at.caption, *at.info, *at.warning])


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def _smollm2():
    return next(m for m in finetune.trainable(context.list_models()) if m.name == SMOLLM2)


def test_a_run_is_planned_and_started_from_the_form(open_page, launched, fruit):
    at = open_page("pages/finetune.py")
    # Verified labels are the default and the store has none: the plan refuses, Start is off.
    assert at.button(key="ft_start").disabled and _errors(at)
    assert "fake-echo" not in at.selectbox(key="ft_model").options  # not a trainable model
    at.selectbox(key="ft_model").set_value(SMOLLM2)
    at.radio(key="ft_source").set_value("gold")
    at.number_input(key="ft_train_size").set_value(20)
    at.number_input(key="ft_rank").set_value(4)
    at.number_input(key="ft_batch_size").set_value(2).run()  # in the expander
    assert not at.exception and not _errors(at), _errors(at)
    # 60 labelled texts: round(0.1 × 60) = 6 held back for validation, 20 of the other 54
    # trained on, in batches of 2: 10 steps.
    assert (
        "adapter `fruit-gold-lora` on SmolLM2\\-135M\\-Instruct\\.Q4\\_1: 20 training texts, "
        "6 for validation; 10 optimiser steps" in _shown(at)
    )
    start = at.button(key="ft_start")
    assert start.label == "Start fine-tuning (10 steps)" and not start.disabled
    start.click().run()
    assert not at.exception and not _errors(at), _errors(at)
    (run_id,) = launched
    config = fruit.runs.get(run_id).config
    assert (config.adapter, config.model, config.dataset) == ("fruit-gold-lora", SMOLLM2, "fruit")
    assert len(config.train_ids) == 20 and len(config.validation_ids) == 6
    assert config.settings == LoraSettings(rank=4, batch_size=2)
    # The run just started is the one shown, queued, before its worker measured a step.
    assert "**queued** · 0 of 10 steps · time left not known yet" in _shown(at)
    assert at.selectbox(key="ft_pick").value == run_id


def test_without_the_training_packages_the_page_says_how_to_add_them(open_page, monkeypatch):
    monkeypatch.setattr(training_packages, "missing_training_package", lambda *a: "torch")
    at = open_page("pages/finetune.py")
    assert not at.exception and not _errors(at), _errors(at)
    (warning,) = at.warning
    assert "torch is not installed" in warning.value and TRAIN_EXTRA_INSTALL in warning.value
    assert not [b for b in at.button if b.key == "ft_start"]  # no form that cannot start


def _stored_run(store) -> str:
    spec = FinetuneSpec(
        "apples", "fruit", "fruit", _smollm2(), LabelSource.GOLD, train_size=20
    )  # batch 4: 5 steps
    run_id = create_finetune(store, plan_finetune(store, spec, finetune.adapters_dir()))
    for step, loss, tokens, seconds in [(1, 2.0, 100, 2.0), (2, 1.5, 120, 4.0), (3, 1.2, 80, 6.0)]:
        store.finetune.record_step(run_id, FinetuneStep(step, 1, loss, tokens, seconds))
    store.finetune.record_validation(run_id, FinetuneValidation(2, 1.4, 6))
    return run_id


def _traces(at) -> dict[str, tuple[list, list]]:
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    return {t["name"]: (t["x"], t["y"]) for t in spec["data"]}


def test_progress_and_loss_curve_then_stop_resume_and_delete(open_page, launched, fruit):
    run_id = _stored_run(fruit)
    checkpoints = finetune.checkpoint_folder(finetune.checkpoints_root(), run_id)
    (checkpoints / "step-000002").mkdir(parents=True)
    at = open_page("pages/finetune.py")
    at.radio(key="ft_source").set_value("gold").run()  # a valid form, so no error above
    assert not at.exception and not _errors(at), _errors(at)
    # 3 of 5 steps; 2 left at the mean 4 s a step; (100 + 120 + 80) tokens / 12 s = 25/s.
    assert "**queued** · 3 of 5 steps · about 8 s left · 25 tokens/s" in _shown(at)
    traces = _traces(at)
    assert traces["training loss (each step's batch)"] == ([1, 2, 3], [2.0, 1.5, 1.2])
    assert traces["validation loss (all validation texts)"] == ([2], [1.4])
    runs = at.dataframe[0].value
    assert list(runs.adapter) == ["apples"] and list(runs.tokens_per_s) == [25.0]
    assert (list(runs.train_texts), list(runs.validation_texts)) == ([20], [6])

    at.button(key="ft_ctl_stop").click().run()
    assert fruit.runs.get(run_id).status == RunStatus.STOPPED
    assert "**stopped** · 3 of 5 steps · 25 tokens/s" in _shown(at)
    assert len(at.get("plotly_chart")) == 1  # the curve stays after the run ends

    at.button(key="ft_ctl_resume").click().run()
    assert not at.exception and not _errors(at), _errors(at)
    assert launched == [run_id] and fruit.runs.get(run_id).status == RunStatus.QUEUED

    at.button(key="ft_ctl_stop").click().run()
    at.checkbox(key=f"ft_ctl_delete_confirm_{run_id}").check().run()
    at.button(key="ft_ctl_delete").click().run()
    assert not at.exception and not _errors(at), _errors(at)
    assert finetune.runs().empty and fruit.finetune.steps(run_id) == []
    assert not checkpoints.exists()
    assert any(f"Deleted run {run_id}" in i.value for i in at.info)


def test_an_adapter_is_listed_and_deleted(open_page, monkeypatch, tmp_path):
    models = linked_models(tmp_path / "models", SMOLLM2_FILE)
    folder = write_adapter(models, "tuned", rank=2)
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(models))
    at = open_page("pages/finetune.py")
    at.radio(key="ft_source").set_value("gold").run()
    table = at.dataframe[-1].value
    assert list(table.name) == [TUNED]
    at.checkbox(key="ft_adapter_confirm_tuned").check().run()
    at.button(key="ft_adapter_delete").click().run()
    assert not at.exception and not _errors(at), _errors(at)
    assert not folder.exists()
    assert "Deleted adapter tuned." in _shown(at)
    assert "No adapter yet" in _shown(at)
