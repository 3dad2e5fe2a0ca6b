"""Bad inputs to `perfics learn probe | code | adapters` on the fake backend: unknown, empty
or path-like names, settings refused before any text is embedded, and deleting a probe or an
adapter that a stopped run still needs (the run then fails naming what is missing)."""

import pytest

from core.app import classify, context, learn, runs
from core.app.cli import main
from core.types import RunSpec, RunStatus, SamplerSettings
from tests.lora_support import SMOLLM2_FILE, TUNED, linked_models, write_adapter
from tests.unit.test_probe import _spec
from tests.unit.test_probe import fruit as fruit  # the fixture: 60 labelled texts


def refused(capsys, *args: str, code: int = 1) -> str:
    """`perfics ARGS` must exit with `code` and one `error:` line; returns that line."""
    got = main(list(args))
    out, err = capsys.readouterr()
    assert got == code, (args, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and "Traceback" not in err, err
    return lines[-1]


PROBE = ["learn", "probe", "--dataset", "fruit", "--codebook", "fruit", "--model", "fake"]


@pytest.mark.parametrize("command", [["learn", "probe"], ["learn", "adapters"]])
def test_delete_refuses_an_unknown_an_empty_or_a_path_name(capsys, fake_mode, command):
    line = refused(capsys, *command, "--delete", "nosuch")
    assert "No probe named 'nosuch'" in line or "No adapter named 'nosuch'" in line
    for name in ("", "../escape", "a/b"):
        line = refused(capsys, *command, "--delete", name)
        assert repr(name) in line and ("probe name" in line or "cannot name an adapter" in line)


@pytest.mark.parametrize("c", ["0", "-1", "nan"])
def test_a_bad_regularisation_is_refused_before_any_text_is_embedded(capsys, fruit, c):
    assert main([*PROBE, "--source", "gold", "--c", c]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: The regularisation C must be positive")  # no progress bar
    assert learn.probes() == ()


def test_probe_training_refuses_bad_splits_and_unknown_data(capsys, fruit):
    gold = [*PROBE, "--source", "gold"]
    assert "--model are needed" in refused(capsys, "learn", "probe", "--dataset", "fruit")
    line = refused(capsys, *gold, "--held-out", "60")
    assert "Holding out 60 of 60 labelled texts leaves too few" in line
    assert "held-out share must be between 0 and 1" in refused(capsys, *gold, "--test-share", "0")
    assert "Training size 0 is out of range" in refused(capsys, *gold, "--train-size", "0")
    line = refused(
        capsys, "learn", "probe", "--dataset", "fruit", "--codebook", "nope", "--model", "fake"
    )
    assert "No codebook named 'nope'" in line
    line = refused(
        capsys, "learn", "probe", "--dataset", "nope", "--codebook", "fruit", "--model", "fake"
    )
    assert "No dataset named 'nope'" in line
    line = refused(capsys, *PROBE)  # verified labels by default, and nobody has reviewed yet
    assert "needs at least 10 texts with verified labels" in line and "Review page" in line
    assert learn.probes() == ()


def test_learn_code_refuses_an_unknown_probe_or_dataset_and_an_empty_sample(capsys, fruit):
    line = refused(capsys, "learn", "code", "--probe", "nosuch", "--dataset", "fruit")
    assert "No probe named 'nosuch'" in line and "perfics learn probe" in line
    learn.train_probe(_spec())
    line = refused(capsys, "learn", "code", "--probe", "fruity", "--dataset", "nope")
    assert "No dataset named 'nope'; import it first" in line
    for sample in ("0", "-3"):
        line = refused(
            capsys, "learn", "code", "--probe", "fruity", "--dataset", "fruit", "--sample", sample
        )
        assert f"A sample needs at least one text; got {sample}" in line
    assert classify.runs().empty


def test_deleting_a_probe_fails_the_stopped_run_that_needs_it_with_the_reason(capsys, fruit):
    learn.train_probe(_spec())
    run_id = learn.create_probe_coding("fruity", "fruit", sample=4)
    assert main(["learn", "probe", "--delete", "fruity"]) == 0
    line = refused(capsys, "run", "--resume", run_id, "--quiet")
    assert "No probe named 'fruity'" in line
    record = context.store().runs.get(run_id)
    assert record.status == RunStatus.FAILED and "No probe named 'fruity'" in record.error
    assert classify.proposals("fruit", "fruit", [run_id]).empty


def test_deleting_an_adapter_fails_the_stopped_run_that_needs_it_with_the_reason(
    capsys, fake_mode, tmp_path, monkeypatch
):
    folder = linked_models(tmp_path / "models", SMOLLM2_FILE)
    write_adapter(folder, "tuned", b_scale=0.5)
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(folder))
    tuned = context.backend_pool().info(TUNED)
    spec = RunSpec("builtin", (tuned,), 0, None, limit=2, settings=SamplerSettings(max_tokens=8))
    run_id = runs.create(spec)
    assert main(["learn", "adapters", "--delete", "tuned"]) == 0
    assert not (folder / "adapters" / "tuned").exists()
    line = refused(capsys, "run", "--resume", run_id, "--quiet", code=2)
    assert f"No usable model matches '{TUNED}'" in line
    record = context.store().runs.get(run_id)
    assert record.status == RunStatus.FAILED and record.done_units == 0
