"""--prompt-file PATH and '-' for stdin (issue 15): a prompt longer than the system's argument
limit (128 KiB on Linux) can be given at all; a file's BOM is dropped; a file that is missing,
unreadable, a folder or not UTF-8 is one line, before any model loads."""

import json
import os
import subprocess

import pytest

from core.app import context
from tests.fault.fault_support import open_to_everyone
from tests.support import CLI, ROOT, run_cli, unprivileged

FAKE = {"PERFICS_BACKEND": "fake"}
# 30,000 words of 5 bytes: 150,000 bytes, over the 131,072 a single argument may have.
LONG = "word " * 30_000


def _env() -> dict:
    return {**os.environ, **FAKE}


def _cli_with_stdin(data: bytes, *args: str) -> subprocess.CompletedProcess:
    """`perfics ARGS` reading `data` on stdin; its output decoded as UTF-8."""
    done = subprocess.run(
        [*CLI, *args], input=data, capture_output=True, cwd=ROOT, env=_env(), timeout=300
    )
    done.stdout, done.stderr = done.stdout.decode(), done.stderr.decode()
    return done


def test_a_prompt_over_the_argument_limit_cannot_be_an_argument():
    """The reason --prompt-file exists: the kernel refuses the command line itself."""
    with pytest.raises(OSError, match="Argument list too long"):
        run_cli("generate", "--model", "fake", "--prompt", LONG, env=FAKE)


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_a_long_prompt_reaches_the_engine_whole(tmp_path, via):
    """The fake model counts the prompt's words: the chat transcript "User: <30,000 words>
    Assistant:" is 30,002 of them, too many for its 512-word context, so the engine's own
    check refuses it and names the count: every word arrived."""
    if via == "file":
        path = tmp_path / "long.txt"
        path.write_text(LONG)
        done = run_cli("generate", "--model", "fake", "--prompt-file", str(path), env=FAKE)
    else:
        done = _cli_with_stdin(LONG.encode(), "generate", "--model", "fake", "--prompt-file", "-")
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: The prompt is 30002 tokens but the model's context holds 512;"
    )


def test_a_prompt_from_stdin_is_generated_from_and_stored(store):
    data = "\ufeffWhy is the sky blue?\n".encode()  # a BOM, as Notepad writes one
    done = _cli_with_stdin(data, "generate", "--model", "fake", "--prompt-file", "-", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["prompt"] == [{"role": "user", "content": "Why is the sky blue?\n"}]
    assert store.db.scalar("SELECT count(*) FROM generations") == 1


def test_refine_takes_its_prompt_from_a_file(tmp_path, store):
    path = tmp_path / "p.txt"
    path.write_bytes("\ufeffName a colour.".encode())
    done = run_cli(
        "refine", "--model", "fake", "--prompt-file", str(path), "--rounds", "1", "--json",
        env=FAKE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["prompt"] == "Name a colour."


def test_score_reads_context_and_continuation_from_files(tmp_path):
    (tmp_path / "c.txt").write_text("the cat sat on")
    done = _cli_with_stdin(
        b"the mat", "score", "--model", "fake", "--context-file", str(tmp_path / "c.txt"),
        "--continuation-file", "-", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["context"], record["continuation"]) == ("the cat sat on", "the mat")
    both = run_cli(
        "score", "--model", "fake", "--context-file", "-", "--continuation-file", "-", env=FAKE
    )
    assert both.stderr == (
        "error: Only one of --context-file and --continuation-file can be '-'.\n"
    )


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--prompt", "a", "--prompt-file", "p.txt"],
            "error: argument --prompt-file: not allowed with argument --prompt "
            "(see perfics generate --help)",
        ),
        ([], "error: one of the arguments --prompt --prompt-file is required "
             "(see perfics generate --help)"),
    ],
)  # fmt: skip
def test_exactly_one_of_prompt_and_prompt_file(args, expected):
    done = run_cli("generate", "--model", "fake", *args, env=FAKE)
    assert (done.returncode, done.stderr) == (2, expected + "\n")


def test_bad_prompt_files_are_one_line_and_store_nothing(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("\ufeffcafé au lait".encode()[:9] + "é".encode("latin-1") + b"!")
    cases = {
        str(tmp_path / "missing.txt"): f"error: Cannot read --prompt-file {tmp_path}/missing.txt:"
        " No such file or directory",
        str(tmp_path): f"error: --prompt-file {tmp_path} is a folder, not a file",
        # The BOM's 3 bytes count: the bad byte is the file's 10th, at offset 9.
        str(latin): f"error: --prompt-file {latin} is not valid UTF-8: byte 0xe9 at offset 9 "
        "(invalid continuation byte); save it as UTF-8",
    }
    for path, expected in cases.items():
        for command in ("generate", "refine"):
            done = run_cli(command, "--model", "fake", "--prompt-file", path, env=FAKE)
            assert (done.returncode, done.stderr) == (1, expected + "\n")
    assert not context.settings().db.exists()  # refused before the store was opened


def test_an_unreadable_prompt_file_is_one_line(tmp_path):
    """As root no mode stops a read, so the command runs as a user modes apply to."""
    how, preexec_fn = unprivileged()
    if how == "nobody":
        open_to_everyone(tmp_path)
    locked = tmp_path / "locked.txt"
    locked.write_text("a secret prompt")
    locked.chmod(0)
    done = subprocess.run(
        [*CLI, "generate", "--model", "fake", "--prompt-file", str(locked)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**_env(), "PERFICS_DB": str(tmp_path / "db" / "p.duckdb")},
        preexec_fn=preexec_fn,
        timeout=300,
    )
    assert (done.returncode, done.stderr) == (
        1,
        f"error: Cannot read --prompt-file {locked}: Permission denied\n",
    ), how
