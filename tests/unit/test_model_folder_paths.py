"""The models folder, path by path: every entry is a usable model or is listed with the reason
it is not one; a file this user cannot read is unusable whatever the cache says; and the
cache misses a rewrite that keeps the file's size and modification time."""

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from core.app.cli import main
from core.config import get_settings
from core.engine import registry
from core.engine.fake import FAKE_INFO
from core.engine.file_cache import FileCache
from core.engine.loader import list_models
from core.types import ModelInfo
from tests.fault.fault_support import open_to_everyone
from tests.support import CLI, MODELS_DIR, ROOT, SMOLLM2, unprivileged

NOT_GGUF = "not a .gguf file — ignored"


def _usable_entry(path: Path) -> ModelInfo:
    """What the cache would say of a good chat model: the stale entry a test plants."""
    return ModelInfo(
        name=path.stem,
        path=path,
        file_size=path.stat().st_size,
        usable=True,
        sha256="a" * 64,
        architecture="llama",
        has_chat_template=True,
    )


def test_a_rewrite_keeping_size_and_modification_time_misses_the_cache(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + b"A" * 60)
    cache = FileCache(tmp_path / "cache")
    cache.put(model, model.stat(), _usable_entry(model))
    before = model.stat()
    assert cache.get(model, before) is not None

    with model.open("r+b") as fh:  # same size, other content, in place (same inode)
        fh.seek(10)
        fh.write(b"B")
    os.utime(model, ns=(before.st_atime_ns, before.st_mtime_ns))  # the old mtime put back
    after = model.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    assert cache.get(model, after) is None  # the ctime moved: the entry is stale
    # Entries written by versions keyed on size and mtime alone are read again, never used.
    stored = {str(model.resolve()): {"size": after.st_size, "mtime_ns": after.st_mtime_ns}}
    cache.file.parent.mkdir(parents=True, exist_ok=True)
    cache.file.write_text(json.dumps(stored))
    assert FileCache(tmp_path / "cache").get(model, after) is None


@pytest.fixture
def crowded_folder(tmp_path) -> Path:
    """A models folder with one of every kind of path that is not a model."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "folder.gguf").mkdir()
    (folder / "loop.gguf").symlink_to("loop.gguf")
    (folder / "dangling.gguf").symlink_to("gone.gguf")
    os.mkfifo(folder / "pipe.gguf")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "socket.gguf"))
    (folder / "empty.gguf").write_bytes(b"")
    (folder / "README.md").write_text("notes")
    (folder / "half.Q8_0.gguf.partial").write_bytes(b"GGUF")
    os.mkfifo(folder / "pipe")
    (folder / "old").mkdir()
    (folder / "old" / "m.gguf").write_bytes(b"GGUF")
    (folder / "old" / "notes.txt").write_text("x")
    (folder / "adapters").mkdir()  # core/engine/adapters.py reads this one
    return folder


def test_every_path_in_the_models_folder_is_listed_with_its_reason(crowded_folder, tmp_path):
    models = {m.name: m for m in registry.discover(crowded_folder, tmp_path / "cache")}
    assert {name: m.reason for name, m in models.items()} == {
        "dangling": "a broken symbolic link: its target gone.gguf does not exist",
        "empty": "empty file",
        "folder": "a folder, not a GGUF file (folders in the models folder are not searched)",
        "loop": "a symbolic link loop (the link leads back to itself), not a file",
        "pipe": "a named pipe (FIFO), not a GGUF file",
        "socket": "a socket, not a GGUF file",
    }
    assert not any(m.usable for m in models.values())
    others = {o.name: o.reason for o in registry.other_paths(crowded_folder)}
    assert others == {
        "README.md": NOT_GGUF,
        "half.Q8_0.gguf.partial": (
            "a quantized copy being written, or left by an interrupted quantization — ignored"
        ),
        "pipe": f"a named pipe (FIFO), {NOT_GGUF}",
        "old": (
            "a folder: subfolders are not searched (only adapters/ is); move its 1 .gguf "
            "file(s) up into the models folder to use them"
        ),
    }


def test_an_unreadable_models_folder_is_said_once(tmp_path):
    not_a_folder = tmp_path / "models"
    not_a_folder.write_text("oops")
    assert registry.discover(not_a_folder) == []
    (other,) = registry.other_paths(not_a_folder)
    assert (other.path, other.reason) == (not_a_folder, "the models folder is not a folder")
    assert registry.other_paths(tmp_path / "nowhere") == []


def test_perfics_models_prints_the_other_files(crowded_folder, monkeypatch, capsys, fake_mode):
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(crowded_folder))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "loop                                     UNUSABLE: a symbolic link loop" in out
    listed = out.split("Other files in the models folder (not models):\n", 1)[1]
    assert f"  {'README.md':38} {NOT_GGUF}\n" in listed
    assert not [line for line in out.splitlines() if line.split()[:1] == ["adapters"]]
    assert main(["models", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in shown["models"] if m["usable"]] == ["fake-echo"]
    other = {o["name"]: o for o in shown["other_files"]}
    assert set(other) == {"README.md", "half.Q8_0.gguf.partial", "pipe", "old"}
    assert other["README.md"] == {
        "name": "README.md",
        "path": str(crowded_folder / "README.md"),
        "reason": NOT_GGUF,
    }


def test_pickers_and_defaults_see_the_same_usable_models(crowded_folder, monkeypatch):
    """The junk adds unusable rows only: what a picker offers and every default stay as they
    were without it."""
    from core.app.options import default_judge, default_model

    (crowded_folder / f"{SMOLLM2}.gguf").symlink_to(MODELS_DIR / f"{SMOLLM2}.gguf")
    clean = crowded_folder.parent / "clean"
    clean.mkdir()
    (clean / f"{SMOLLM2}.gguf").symlink_to(MODELS_DIR / f"{SMOLLM2}.gguf")
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    listed = {}
    for folder in (crowded_folder, clean):
        monkeypatch.setenv("PERFICS_MODELS_DIR", str(folder))
        models = list_models(get_settings())
        usable = [m for m in models if m.usable]
        listed[folder] = (
            [m.name for m in usable],
            default_model(usable).name,
            default_judge(models).name,
        )
    assert listed[crowded_folder] == listed[clean]
    assert listed[clean][0] == [FAKE_INFO.name, SMOLLM2]


def test_a_file_giving_an_io_error_is_unusable_whatever_the_cache_says(tmp_path):
    """/proc/self/mem is a regular file whose first bytes cannot be read (EIO): a real I/O
    error, not a mock."""
    folder = tmp_path / "models"
    folder.mkdir()
    broken = folder / "broken.gguf"
    broken.symlink_to("/proc/self/mem")
    cache = FileCache(tmp_path / "cache")
    cache.put(broken, broken.stat(), _usable_entry(broken))
    cache.save()
    (found,) = registry.discover(folder, tmp_path / "cache")
    assert (found.usable, found.reason) == (False, "cannot be read: Input/output error")


def test_an_unreadable_file_is_unusable_whatever_the_cache_says(tmp_path):
    """As root no mode stops a read, so the listing runs as the unprivileged user nobody;
    otherwise the mode alone does it (tests.support.unprivileged). The cache holds a "usable"
    entry that matches the file's stat key exactly, as it would after the file was listed by
    a user who could read it."""
    how, preexec_fn = unprivileged()
    if how == "nobody":
        open_to_everyone(tmp_path)
    folder = tmp_path / "models"
    folder.mkdir()
    locked = folder / "locked.gguf"
    locked.write_bytes(b"GGUF" + bytes(60))
    locked.chmod(0)
    cache = FileCache(tmp_path / "cache")
    cache.put(locked, locked.stat(), _usable_entry(locked))
    cache.save()
    db = tmp_path / "db"
    db.mkdir()
    db.chmod(0o1777)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFICS_")}
    env.update(
        PERFICS_MODELS_DIR=str(folder),
        PERFICS_CACHE_DIR=str(tmp_path / "cache"),
        PERFICS_DB=str(db / "perfics.duckdb"),
        PERFICS_BACKEND="llama",
    )

    def perfics(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=preexec_fn,
        )

    listed = perfics("models", "--json")
    assert listed.returncode == 0, (how, listed.stderr)
    (row,) = json.loads(listed.stdout)["models"]
    assert (row["name"], row["usable"], row["reason"]) == (
        "locked",
        False,
        "cannot be read: Permission denied",
    )
    text = perfics("models")
    assert "locked" in text.stdout and "UNUSABLE: cannot be read: Permission denied" in text.stdout
    used = perfics("generate", "--model", "locked", "--prompt", "Hi", "--max-tokens", "2")
    assert used.returncode == 2, used.stderr
    assert "No usable model matches 'locked'" in used.stderr
    for result in (listed, text, used):
        assert "Traceback" not in result.stderr


def test_an_adapter_file_that_is_a_pipe_or_unreadable_is_unusable(tmp_path):
    """The same checks for adapters/<name>/adapter.gguf: a named pipe in its place never
    blocks the listing, and an I/O error wins over a stale "usable" cache entry."""
    from core.engine.adapters import list_adapters
    from core.types.finetune import ADAPTER_FILE
    from tests.lora_support import SMOLLM2_FILE, manifest_for, write_adapter

    base = ModelInfo("base", SMOLLM2_FILE, 1, usable=True, sha256="a" * 64, architecture="llama")
    files = {}
    for name in ("piped", "broken"):
        manifest = manifest_for(name, "base", base.sha256)
        files[name] = write_adapter(tmp_path, name, manifest=manifest, rank=2) / ADAPTER_FILE
        files[name].unlink()
    os.mkfifo(files["piped"])
    files["broken"].symlink_to("/proc/self/mem")
    cache = FileCache(tmp_path / "cache")
    cache.put(files["broken"], files["broken"].stat(), _usable_entry(files["broken"]))
    found = {m.name: m.reason for m in list_adapters(tmp_path, [base], cache)}
    assert found == {
        "base+broken": "adapter.gguf cannot be read: Input/output error",
        "base+piped": "adapter.gguf: a named pipe (FIFO), not a GGUF file",
    }
