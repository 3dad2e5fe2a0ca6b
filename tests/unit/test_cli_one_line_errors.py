"""Every `perfics` error is one line on stderr (issue 15): argparse's usage errors point at
--help instead of printing the usage block (exit status 2); an exception no command expected
is one line with a stable marker, exit status 1, and its traceback goes to a log file."""

import tempfile

import pytest

from core.app import context
from core.app.cli import main
from core.app.cli.inputs import UNEXPECTED
from tests.support import run_cli


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["refine", "--model", "m", "--prompt", "p", "--rounds", "x"],
            "error: argument --rounds: invalid int value: 'x' (see perfics refine --help)",
        ),
        (
            ["generate", "--prompt", "p"],
            "error: the following arguments are required: --model (see perfics generate --help)",
        ),
        (
            ["suite", "import"],
            "error: the following arguments are required: path (see perfics suite import --help)",
        ),
        (
            ["export", "nonsense", "--out", "x.csv"],
            "error: argument table: invalid choice: 'nonsense'",
        ),
        (["frobnicate"], "error: argument command: invalid choice: 'frobnicate'"),
        (["models", "--colour"], "error: unrecognized arguments: --colour (see perfics --help)"),
    ],
)
def test_a_usage_error_is_one_line(args, expected):
    done = run_cli(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(expected)
    assert done.stderr.count("\n") == 1 and "usage:" not in done.stderr


def test_help_is_still_the_full_usage():
    done = run_cli("refine", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: perfics refine")


def _break_model_listing(monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'\nsecond line")

    monkeypatch.setattr(context, "list_models", broken)


def test_an_unexpected_exception_is_one_line_with_its_traceback_logged(monkeypatch, capsys):
    _break_model_listing(monkeypatch)
    assert main(["models"]) == 1
    out, err = capsys.readouterr()
    log = context.settings().db.parent / "logs" / "perfics-errors.log"
    assert err == (
        f"{UNEXPECTED}TypeError: unsupported operand type(s) for +: 'int' and 'str' second "
        f"line; details written to {log}\n"
    )
    assert out == ""
    written = log.read_text()
    assert written.startswith("--- ") and written.splitlines()[0].endswith(" perfics models")
    assert "Traceback (most recent call last):" in written
    assert "in broken\n" in written and written.rstrip().endswith("second line")


def test_the_traceback_goes_to_the_temporary_folder_when_the_data_folder_fails(
    tmp_path, monkeypatch, capsys
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("PERFICS_DB", str(blocker / "perfics.duckdb"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    _break_model_listing(monkeypatch)
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{UNEXPECTED}TypeError: ")
    assert err.endswith(f"; details written to {tmp_path / 'tmp' / 'perfics-errors.log'}\n")
    assert "Traceback" in (tmp_path / "tmp" / "perfics-errors.log").read_text()
