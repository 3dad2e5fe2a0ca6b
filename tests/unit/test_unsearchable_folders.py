"""A folder on the way that this user cannot enter (mode 000 on a parent): pathlib's exists()
and is_dir() raise PermissionError there, so each check must turn it into a sentence, never
a traceback or "error: unexpected". As root no mode applies, so the commands run as a user
modes apply to (tests/support.py::unprivileged)."""

import os
import subprocess

import pytest

from core.app.cli.inputs import UNEXPECTED
from tests.fault.fault_support import open_to_everyone
from tests.support import CLI, ROOT, unprivileged


@pytest.fixture
def shut(tmp_path):
    """(run, shut folder): run(*args, **env) runs perfics as an unprivileged user."""
    how, preexec_fn = unprivileged()
    if how == "nobody":
        open_to_everyone(tmp_path)
    folder = tmp_path / "shut"
    (folder / "inner").mkdir(parents=True)
    folder.chmod(0)

    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={
                **os.environ,
                "PERFICS_BACKEND": "fake",
                "PERFICS_DB": str(tmp_path / "db" / "s.duckdb"),
                "PERFICS_MODELS_DIR": str(tmp_path / "models"),
                "PERFICS_ENDPOINTS_FILE": str(tmp_path / "endpoints.toml"),
                **env,
            },
            preexec_fn=preexec_fn,
            timeout=300,
        )

    yield run, folder
    folder.chmod(0o755)


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr and UNEXPECTED not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    return lines[0]


def test_a_store_behind_a_folder_that_cannot_be_entered_is_one_line(shut):
    run, folder = shut
    line = _one_line_error(run("run", "--list", PERFICS_DB=str(folder / "inner" / "s.duckdb")))
    assert str(folder) in line


def test_an_export_behind_a_folder_that_cannot_be_entered_is_one_line(shut):
    run, folder = shut
    line = _one_line_error(run("export", "runs", "--out", str(folder / "inner" / "runs.csv")))
    assert "Cannot write" in line and "Permission denied" in line


def test_a_models_folder_that_cannot_be_reached_is_listed_with_its_reason(shut):
    run, folder = shut
    done = run("models", PERFICS_MODELS_DIR=str(folder / "inner" / "models"))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "cannot be reached: Permission denied" in done.stdout
