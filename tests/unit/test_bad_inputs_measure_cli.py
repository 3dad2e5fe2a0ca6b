"""Bad inputs to `perfics score | perplexity | kld | quantize | ladder | rank | results | suite
list`, in this process on the fake backend: each is refused with one `error:` line and a non-zero
exit, before a model is loaded where the input alone is wrong, and nothing is stored or run.
The checks llama.cpp itself must make (chunk sizes, vocabularies, a full disk) are in
tests/real_model/test_bad_inputs_measure_real.py."""

import json

import pytest

from core.app import context, ladder, runs
from core.app.cli import main
from core.app.preferences import HARDWARE
from core.engine.fake import FAKE_INFO
from core.errors import InvalidRequest
from core.ranking.cost import HARDWARE_PRESETS
from core.types import HardwareProfile, RunSpec, RunStatus, SamplerSettings
from tests.pages.test_quantization_page import stored_ladder


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """Every command here runs on the fake backend."""


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *args: str, code: int = 1) -> str:
    """Runs `perfics ARGS`, which must exit with `code` saying why in one `error:` line (after
    any progress lines); returns that line."""
    got, out, err = cli(capsys, *args)
    assert got == code, (args, out, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), (args, err)
    assert sum(line.startswith("error: ") for line in lines) == 1, (args, err)
    return lines[-1]


def queued_benchmark() -> str:
    """A benchmark run created but not started: nothing answered yet."""
    spec = RunSpec(
        "builtin", (FAKE_INFO,), 0, None, limit=2, settings=SamplerSettings(max_tokens=8)
    )
    return runs.create(spec)


def text_file(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# --- score, perplexity, kld -----------------------------------------------------------------


def test_score_refuses_an_unknown_model_an_empty_continuation_and_a_negative_top_k(capsys):
    line = refused(
        capsys, "score", "--model", "nosuch", "--context", "a", "--continuation", "b", code=2
    )
    assert "No usable model matches 'nosuch'" in line and FAKE_INFO.name in line
    args = ["score", "--model", "fake", "--context", "a"]
    assert "continuation to score is empty" in refused(capsys, *args, "--continuation", "")
    line = refused(capsys, *args, "--continuation", "b", "--top-k", "-3")
    assert "top_k must be 0 or more, got -3" in line
    chat = ["score", "--model", "fake", "--chat"]
    line = refused(capsys, *chat, "--context", "", "--continuation", "hi")
    assert "The prompt is empty" in line
    line = refused(capsys, *chat, "--context", "q", "--continuation", "  ")
    assert "The answer is empty" in line


@pytest.mark.parametrize("command", ["perplexity", "kld"])
def test_a_text_file_that_is_missing_not_utf8_or_a_folder_is_named(capsys, tmp_path, command):
    models = (
        ["--model", "fake"] if command == "perplexity" else ["--base", "fake", "--model", "smol"]
    )
    missing = str(tmp_path / "nope.txt")
    assert f"No such file: {missing}" in refused(capsys, command, *models, "--file", missing)
    binary = text_file(tmp_path, "latin1.txt", "café".encode("latin-1"))
    line = refused(capsys, command, *models, "--file", binary)
    assert f"{binary} is not UTF-8 text (byte 3)" in line
    line = refused(capsys, command, *models, "--file", str(tmp_path))
    assert f"Cannot read {tmp_path}: Is a directory" in line


def test_kld_refuses_one_model_against_itself_and_an_unknown_model(capsys, tmp_path):
    text = text_file(tmp_path, "t.txt", b"Some words to compare the models on.")
    line = refused(capsys, "kld", "--base", "fake", "--model", FAKE_INFO.name, "--file", text)
    assert "--base and --model are the same file" in line
    line = refused(capsys, "kld", "--base", "fake", "--model", "nosuch", "--file", text, code=2)
    assert "No usable model matches 'nosuch'" in line


# --- quantize and ladder --------------------------------------------------------------------


def test_quantize_refuses_unknown_or_no_types_and_an_unknown_model(capsys):
    line = refused(capsys, "quantize", "fake", "--types", "Q8_0,Q9_X")
    assert "Unknown quantization type Q9_X; llama.cpp writes" in line and "Q4_K_M" in line
    assert "at least one quantization type" in refused(capsys, "quantize", "fake", "--types", ",,")
    line = refused(capsys, "quantize", "nosuch", "--types", "Q8_0", code=2)
    assert "No usable model matches 'nosuch'" in line


def test_ladder_refuses_bad_chunk_sizes_and_texts_before_creating_a_run(capsys, tmp_path, store):
    text = text_file(tmp_path, "t.txt", b"Words to measure a ladder on. " * 20)
    empty = text_file(tmp_path, "empty.txt", b"")
    for ctx in ("0", "-4", "15"):
        line = refused(capsys, "ladder", "fake", "--file", text, "--ctx", ctx)
        assert f"--ctx must be at least 16 tokens, got {ctx}" in line
    assert "not both" in refused(capsys, "ladder", "fake", "--file", text, "--suite", "builtin")
    assert "Give a text to measure on" in refused(capsys, "ladder", "fake")
    assert "Name the source model, or give --run" in refused(capsys, "ladder")
    assert "The text to measure on is empty" in refused(capsys, "ladder", "fake", "--file", empty)
    line = refused(capsys, "ladder", "fake", "--suite", "nosuch")
    assert "No suite named 'nosuch'" in line
    assert "Unknown quantization type Q9" in refused(
        capsys, "ladder", "fake", "--types", "Q9", "--file", text
    )
    assert store.db.rows("SELECT count(*) FROM runs WHERE kind = 'ladder'") == [(0,)]


def test_a_text_uploaded_on_the_quantization_page_must_be_utf8():
    assert ladder.uploaded_text("\ufeffcafé".encode(), "notes.txt") == ("café", "notes.txt")
    with pytest.raises(InvalidRequest, match=r"notes.txt is not UTF-8 text \(byte 3\)"):
        ladder.uploaded_text("café".encode("latin-1"), "notes.txt")


def test_ladder_run_refuses_an_unknown_id_and_leaves_another_kind_of_run_alone(capsys, store):
    assert "No run with id 'nosuch'" in refused(capsys, "ladder", "--run", "nosuch")
    benchmark = queued_benchmark()  # resuming it would answer its questions
    line = refused(capsys, "ladder", "--run", benchmark)
    assert f"Run {benchmark} is not a quantization ladder" in line
    record = store.runs.get(benchmark)
    assert (record.status, record.done_units) == (RunStatus.QUEUED, 0)


# --- rank and results -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ("1,2", "--weights takes three numbers: P,R,C"),
        ("a,b,c", "--weights takes three numbers: P,R,C"),
        ("nan,1,1", "weights must be finite numbers"),
        ("1,inf,1", "weights must be finite numbers"),
        ("1e308,1e308,1e308", "weights must be finite numbers"),  # the sum overflows
        ("-1,0,0", "weights cannot be negative"),
        ("0,0,0", "at least one weight must be positive"),
    ],
)
def test_rank_refuses_weights_that_rank_nothing(capsys, weights, message):
    line = refused(capsys, "rank", f"--weights={weights}", "--accept-unreliable-judge")
    assert message in line


def test_rank_refuses_bad_presets_and_runs_that_measure_nothing(capsys, store):
    line = refused(capsys, "rank", "--preset", "nope")
    assert "unknown preset; choose one of laptop-assistant" in line
    line = refused(capsys, "rank", "--preset", "laptop-assistant", "--weights", "1,1,1")
    assert "give --preset or --weights, not both" in line
    assert "No run with id 'nosuch'" in refused(capsys, "rank", "--run", "nosuch")
    assert "run id is empty" in refused(capsys, "rank", "--run", "")
    ladder = stored_ladder(store)
    line = refused(capsys, "rank", "--run", ladder)
    assert f"Run {ladder} is a ladder run: PeRFICS ranks benchmark and likelihood runs" in line
    assert f"perfics ladder --run {ladder}" in line


def test_rank_without_accepting_an_unusable_judge_is_refused_even_as_json(capsys, judged_run):
    line = refused(capsys, "rank")
    assert "will not rank on an unreliable judge" in line and "--accept-unreliable-judge" in line
    code, out, _ = cli(capsys, "rank", "--json")
    record = json.loads(out)
    assert code == 1 and "unreliable judge" in record["error"] and record["models"] == []


@pytest.mark.parametrize(
    "field", ["cost_per_hour", "purchase_price", "lifetime_years", "watts", "electricity_per_kwh"]
)
def test_a_hardware_profile_with_a_figure_that_is_not_finite_is_refused(field):
    for value in (float("nan"), float("inf")):
        with pytest.raises(InvalidRequest, match=f"{field} must be a finite number"):
            HardwareProfile("box", **{field: value})


def test_a_saved_hardware_profile_that_no_longer_validates_falls_back_to_a_preset(capsys, store):
    store.init()
    store.preferences.put(HARDWARE, {"name": "old", "watts": -5.0, "currency": "EUR"})
    code, out, err = cli(capsys, "rank", "--accept-unreliable-judge", "--json")
    assert code == 0, err
    assert json.loads(out)["hardware"]["name"] == HARDWARE_PRESETS[0].name


def test_results_refuses_an_unknown_an_empty_or_another_kind_of_run(capsys, store):
    queued_benchmark()  # the newest benchmark, which an empty id used to show instead
    assert "No run with id 'nosuch'" in refused(capsys, "results", "--run", "nosuch")
    assert "run id is empty" in refused(capsys, "results", "--run", "")
    ladder = stored_ladder(store)
    line = refused(capsys, "results", "--run", ladder)
    assert f"Run {ladder} is a ladder run: results are shown for benchmark and" in line


def test_a_likelihood_sample_without_a_scorable_question_says_to_draw_more(capsys, store):
    run = ["run", "--measure", "likelihood", "--suite", "builtin", "--models", "fake"]
    line = refused(capsys, *run, "--limit", "2")
    assert "No question of suite 'builtin' can be scored by likelihood" in line
    assert "The 2 question(s) chosen by the limit and categories have none" in line
    assert "--limit must be at least 1" in refused(capsys, *run, "--limit", "0")
    assert "The same model is listed twice" in refused(capsys, *run[:-1], "fake,fake")
    line = refused(capsys, *run[:-2], "--suite", "nosuch", "--models", "fake")
    assert "No suite named 'nosuch'" in line
    assert store.db.rows("SELECT count(*) FROM runs") == [(0,)]


# --- suite list -----------------------------------------------------------------------------


def test_suite_list_on_a_new_store_lists_the_builtin_suite(capsys):
    code, out, err = cli(capsys, "suite", "list", "--json")
    assert code == 0, err
    assert [s["name"] for s in json.loads(out)] == ["builtin"]


def test_suite_list_on_a_file_that_is_no_store_says_so_and_leaves_it(capsys, tmp_path, monkeypatch):
    db = tmp_path / "notes.duckdb"
    db.write_bytes(b"these are my notes, not a database\n" * 100)
    monkeypatch.setenv("PERFICS_DB", str(db))
    line = refused(capsys, "suite", "list")
    assert str(db) in line
    assert db.read_bytes() == b"these are my notes, not a database\n" * 100
    assert context.settings().db == db
