"""`perfics learn finetune | adapters` without training: the install hint when the [train]
packages are missing (torch blocked in a child process), the adapter listing and deletion,
and bad requests refused with a clear error."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import pytest

from core.app.cli import main
from core.engine.fake import FAKE_INFO
from core.errors import InvalidRequest
from core.evaluation.adapter_files import write_adapter_folder
from core.types.finetune import AdapterManifest, LoraSettings
from tests.support import ROOT


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """Every command here runs on the fake backend."""


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _without_torch(*args: str) -> subprocess.CompletedProcess:
    """The CLI in a child process in which `import torch` fails, as on an install without
    the [train] extra."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["torch"] = None  # import torch now raises ImportError
        from core.app.cli import main
        sys.exit(main({list(args)!r}))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PERFICS_BACKEND": "fake"},
        timeout=120,
    )


def test_without_torch_finetune_says_how_to_add_it_and_the_rest_works():
    done = _without_torch(
        "learn", "finetune", "--dataset", "d", "--codebook", "c", "--model", "fake-echo"
    )
    assert done.returncode == 1, done.stderr
    assert "torch is not installed" in done.stderr
    assert "pip install -e '.[train]'" in done.stderr
    assert "Traceback" not in done.stderr
    listing = _without_torch("learn", "adapters")
    assert listing.returncode == 0 and listing.stdout.strip() == "no adapters", listing.stderr
    resumed = _without_torch("learn", "finetune", "--resume", "nope")
    assert resumed.returncode == 1 and "pip install -e '.[train]'" in resumed.stderr


def _manifest(name: str) -> AdapterManifest:
    return AdapterManifest(
        name=name,
        base_model="SmolLM2-135M-Instruct.Q4_1",
        base_sha256="a" * 64,
        architecture="llama",
        dataset="bills",
        codebook="cap",
        codebook_codes=("1", "2"),
        data_hash="b" * 64,
        train_size=40,
        validation_size=4,
        settings=LoraSettings(),
        steps=10,
        tokens_trained=6000,
        train_seconds=30.0,
        wall_seconds=50.0,
        peak_rss_mb=4000.0,
        final_train_loss=0.9,
        validation_loss=1.25,
        run_id="r1",
        created_at="2026-01-01T00:00:00+00:00",
    )


def test_adapters_are_listed_and_deleted(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(tmp_path))
    write_adapter_folder(
        tmp_path / "adapters", _manifest("bills-lora"), lambda p: p.write_bytes(b"x"), False
    )
    code, out, _ = _run(capsys, "learn", "adapters")
    assert code == 0
    assert out.strip() == (
        "SmolLM2-135M-Instruct.Q4_1+bills-lora: cap · 40 texts · r=8 · 10 steps · "
        "validation loss 1.250"
    )
    code, out, _ = _run(capsys, "learn", "adapters", "--json")
    assert [a["name"] for a in json.loads(out)] == ["bills-lora"]
    assert json.loads(out)[0]["settings"]["rank"] == 8
    code, out, _ = _run(capsys, "learn", "adapters", "--delete", "bills-lora")
    assert code == 0 and not (tmp_path / "adapters" / "bills-lora").exists()
    code, _, err = _run(capsys, "learn", "adapters", "--delete", "bills-lora")
    assert code == 1 and "No adapter named 'bills-lora'" in err


def test_an_existing_adapter_is_kept_unless_replaced(tmp_path):
    root = tmp_path / "adapters"
    write_adapter_folder(root, _manifest("a"), lambda p: p.write_bytes(b"old"), False)
    newer = dataclasses.replace(_manifest("a"), run_id="r2")
    with pytest.raises(InvalidRequest, match="exists already"):
        write_adapter_folder(root, newer, lambda p: p.write_bytes(b"new"), False)
    assert (root / "a" / "adapter.gguf").read_bytes() == b"old"
    write_adapter_folder(root, newer, lambda p: p.write_bytes(b"new"), True)
    assert (root / "a" / "adapter.gguf").read_bytes() == b"new"
    assert json.loads((root / "a" / "manifest.json").read_text())["run_id"] == "r2"
    assert [p.name for p in root.iterdir()] == ["a"]  # nothing left aside


def test_a_bad_request_is_refused_with_a_clear_error(capsys, store):
    code, _, err = _run(capsys, "learn", "finetune", "--dataset", "d")
    assert code == 1 and "--dataset, --codebook and --model are needed" in err
    flags = ["--dataset", "nope", "--codebook", "c", "--model", FAKE_INFO.name, "--name", "a/b"]
    code, _, err = _run(capsys, "learn", "finetune", *flags)
    assert code == 1 and "cannot name an adapter" in err
