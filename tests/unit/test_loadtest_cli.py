"""`perfics loadtest` in process: its table and JSON on the fake backend, the list, showing a
stored test again, and a level where every request fails printing its reason, not a
traceback."""

import json

import pytest

from core.app import context
from core.app.cli import main
from core.engine.fake import FakeBackend
from core.evaluation.loadtest import builtin_prompts
from core.types import SamplerSettings
from tests.loadtest_support import StandInBackend


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _fake(fake_mode):
    pass


def _rows(out: str) -> dict[int, list[str]]:
    """The table's rows by concurrency, each split into its eight columns."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("concurrency"))
    rows = {}
    for line in lines[start + 1 :]:
        cells = line.split()
        if len(cells) != 8 or not cells[0].isdigit():
            break
        rows[int(cells[0])] = cells
    return rows


def test_the_table_has_a_row_per_level_with_its_counts(capsys):
    code, out, err = cli(capsys, "loadtest", "fake", "--concurrency", "1,2", "--requests", "3")
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.lstrip().startswith("concurrency"))
    names = ("requests", "ok", "failed", "req/s", "output tok/s", "latency p50/p90/p99 (s)")
    positions = [header.index(name) for name in (*names, "TTFT p50 (s)")]
    assert positions == sorted(positions)
    rows = _rows(out)
    assert sorted(rows) == [1, 2]
    for cells in rows.values():
        assert cells[1:4] == ["3", "3", "0"]  # requests, ok, failed
        assert float(cells[4]) > 0 and float(cells[5]) > 0
        assert len(cells[6].split("/")) == 3
    assert "One warm-up request before the first level is not counted" in out
    assert "A local model answers one request at a time" in out


def test_json_counts_the_tokens_the_model_wrote(capsys):
    code, out, err = cli(
        capsys, "loadtest", "fake", "--concurrency", "1,2", "--requests", "3",
        "--max-tokens", "8", "--json", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)
    assert shown["status"] == "completed" and shown["max_tokens"] == 8
    # The same three greedy answers at each level, as the fake writes them.
    settings = SamplerSettings(temperature=0.0, max_tokens=8, seed=0)
    fake = FakeBackend()
    expected = sum(
        fake.chat([{"role": "user", "content": p}], settings).completion_tokens
        for p in builtin_prompts()[:3]
    )
    for level in shown["levels"]:
        assert level["output_tokens"] == expected
        assert level["output_tokens_per_s"] == pytest.approx(expected / level["seconds"])
        assert level["requests_per_s"] == pytest.approx(3 / level["seconds"])


def test_the_list_and_showing_a_test_again(capsys):
    code, out, _ = cli(capsys, "loadtest", "--list")
    assert code == 0 and "No load tests yet" in out
    _, out, _ = cli(capsys, "loadtest", "fake", "--concurrency", "2", "--requests", "2", "--json")
    run_id = json.loads(out)["run_id"]
    code, out, _ = cli(capsys, "loadtest", "--list")
    assert code == 0 and run_id in out and "completed" in out and "1 of 1 levels" in out
    assert "data leaves this machine" not in out  # a local model
    code, out, _ = cli(capsys, "loadtest", "--run", run_id)  # completed: shown, not redone
    assert code == 0 and f"Load test {run_id} of fake-echo" in out and sorted(_rows(out)) == [2]


def test_a_level_where_every_request_fails_prints_the_reason(capsys, monkeypatch):
    down = {"now": False}
    backend = StandInBackend(
        fail=lambda p: "connection refused" if down["now"] else None,
        on_call=lambda calls: down.update(now=calls > 3),  # warm-up and level 1 answered
    )
    monkeypatch.setattr(context, "open_backend", lambda info, cfg=None: backend)
    code, out, err = cli(capsys, "loadtest", "fake", "--concurrency", "1,4", "--requests", "2")
    assert code == 1
    assert sorted(_rows(out)) == [1]  # what was measured before
    assert "error: Every one of the 2 requests at concurrency 4 failed" in err
    assert "connection refused (×2)" in err and "Traceback" not in err + out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fake", "--concurrency", "1,two"), "whole numbers separated by commas"),
        (("fake", "--requests", "0"), "Requests per level must be"),
        (("nonexistent",), "No usable model matches 'nonexistent'"),
        ((), "Name the endpoint"),
    ],
)
def test_bad_input_is_a_clear_error(capsys, args, message):
    code, out, err = cli(capsys, "loadtest", *args)
    assert code in (1, 2) and message in err and "Traceback" not in err
