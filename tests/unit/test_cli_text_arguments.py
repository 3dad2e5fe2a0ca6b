"""Arguments whose bytes are not UTF-8 (issue 15). Python hands them over as lone surrogates
(surrogateescape); a text argument holding one is refused with one line naming the option
and the byte, before anything is stored, while a file path keeps its bytes. The engine and
the use cases that store names refuse such text too, for callers other than the CLI."""

import os

import pytest

from core.app import classify, context, runs
from core.app.cli import build_parser
from core.app.cli.inputs import PATH_ARGUMENTS
from core.app.generate import generate
from core.app.refine import refine
from core.engine.fake import FAKE_INFO, FakeBackend
from core.errors import InvalidRequest
from core.evaluation.benchmark import create_run
from core.types import RefineRequest, SamplerSettings
from core.types.text import check_text, surrogate_problem
from tests.support import DATA, bench_spec, run_cli

FAKE = {"PERFICS_BACKEND": "fake"}


def argv_text(raw: bytes) -> str:
    """What Python makes of these bytes in sys.argv on POSIX."""
    return os.fsdecode(raw)


def _nothing_stored() -> None:
    db = context.settings().db
    if db.exists():  # refused before the store was even opened, or opened and left empty
        store = context.store()
        assert store.db.scalar("SELECT count(*) FROM generations") == 0
        assert store.db.scalar("SELECT count(*) FROM runs") == 0
        assert store.db.scalar("SELECT count(*) FROM suites WHERE name <> 'builtin'") == 0


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["generate", "--model", "fake", "--prompt", argv_text(b"abc\xff\xfe")],
            "error: --prompt is not valid UTF-8: byte 0xff at character 4; "
            "give UTF-8 text or use --prompt-file",
        ),
        (
            ["refine", "--model", "fake", "--prompt", argv_text(b"caf\xe9")],
            "error: --prompt is not valid UTF-8: byte 0xe9 at character 4; "
            "give UTF-8 text or use --prompt-file",
        ),
        (
            ["generate", "--model", "fake", "--prompt", "hi", "--stop", "ok", "--stop",
             argv_text(b"\n\x80")],
            "error: --stop is not valid UTF-8: byte 0x80 at character 2; give UTF-8 text",
        ),
        (
            ["suite", "import", str(DATA / "ours.jsonl"), "--name", argv_text(b"qs\xc3")],
            "error: --name is not valid UTF-8: byte 0xc3 at character 3; give UTF-8 text",
        ),
        (
            ["learn", "finetune", "--dataset", "d", "--codebook", "c", "--model", "fake",
             "--name", argv_text(b"\xffx")],
            "error: --name is not valid UTF-8: byte 0xff at character 1; give UTF-8 text",
        ),
        (
            ["score", "--model", "fake", "--context", "a", "--continuation", argv_text(b"b\xfe")],
            "error: --continuation is not valid UTF-8: byte 0xfe at character 2; "
            "give UTF-8 text or use --continuation-file",
        ),
        (
            ["endpoints", "add", argv_text(b"e\xff"), "--url", "http://127.0.0.1:9/v1",
             "--model", "m"],
            "error: NAME is not valid UTF-8: byte 0xff at character 2; give UTF-8 text",
        ),
    ],
)  # fmt: skip
def test_a_text_argument_that_is_not_utf8_is_one_line_and_stores_nothing(args, expected):
    done = run_cli(*args, env=FAKE)
    assert (done.returncode, done.stderr, done.stdout) == (2, expected + "\n", "")
    _nothing_stored()
    assert not context.settings().endpoints_path.exists()


def test_a_path_argument_keeps_its_bytes(tmp_path):
    """A file name may hold any bytes: the file is read, and only a name made from it (the
    suite's default name) has to be text."""
    odd = tmp_path / argv_text(b"qs-\xff.jsonl")
    odd.write_bytes((DATA / "ours.jsonl").read_bytes())
    done = run_cli("suite", "import", str(odd), "--name", "odd", env=FAKE)
    assert done.returncode == 0, done.stderr
    suites = context.store().suites.overview()
    (source,) = suites[suites.name == "odd"].source
    assert source == "qs-\ufffd.jsonl"  # stored as text, the stray byte shown as U+FFFD
    done = run_cli("suite", "import", str(odd), env=FAKE)
    assert done.returncode == 1
    assert done.stderr == "error: The suite name is not valid UTF-8: byte 0xff at character 4\n"


def test_every_argument_that_names_a_file_is_declared_a_path():
    """Arguments typed or labelled as files (type Path, a FILE or PATH metavar, an --X-file
    option) are all in PATH_ARGUMENTS, so a file name that is not UTF-8 is never refused;
    and every name there is an argument of some command."""
    dests, file_like = set(), set()

    def walk(parser):
        for action in parser._actions:
            if isinstance(action.choices, dict):
                for sub in action.choices.values():
                    walk(sub)
            dests.add(action.dest)
            metavar = str(action.metavar or "")
            if (
                getattr(action.type, "__name__", "") == "Path"
                or "FILE" in metavar
                or "PATH" in metavar
                or any(o.endswith("-file") or o == "--file" for o in action.option_strings)
            ):
                file_like.add(action.dest)

    walk(build_parser())
    assert file_like <= PATH_ARGUMENTS <= dests
    # The two that name files only by their place (suite import PATH, export --out):
    assert PATH_ARGUMENTS - file_like <= {"path", "out"}


def test_check_text_names_the_byte_or_the_code_point():
    assert surrogate_problem("fine ünïcode") is None
    assert surrogate_problem(argv_text(b"ab\xff")) == "byte 0xff at character 3"
    assert surrogate_problem("x\ud800") == "U+D800 at character 2"  # a JSON "\ud800" escape
    with pytest.raises(InvalidRequest, match=r"^The prompt is not valid UTF-8: byte 0xe9 at"):
        check_text(argv_text(b"caf\xe9"), "The prompt")


BAD = argv_text(b"caf\xe9")


def test_the_engine_refuses_a_prompt_or_stop_string_that_is_not_text(store):
    backend = FakeBackend()
    with pytest.raises(InvalidRequest, match="The user message is not valid UTF-8"):
        generate(backend, BAD, SamplerSettings())
    with pytest.raises(InvalidRequest, match="The prompt is not valid UTF-8"):
        generate(backend, BAD, SamplerSettings(), raw=True)
    with pytest.raises(InvalidRequest, match="A stop string is not valid UTF-8"):
        SamplerSettings(stop=("ok", BAD))
    assert backend.prompts == []
    outcome = refine(backend, RefineRequest(BAD, rounds=1))
    assert outcome.run_id is None and "The prompt is not valid UTF-8" in str(outcome.error)
    with pytest.raises(InvalidRequest, match="The suite name is not valid UTF-8"):
        create_run(store, bench_spec(suite=BAD, models=(FAKE_INFO,), judge=None), "fake")
    with pytest.raises(InvalidRequest, match="A category is not valid UTF-8"):
        create_run(store, bench_spec(categories=(BAD,), judge=None), "fake")
    assert store.db.scalar("SELECT count(*) FROM runs") == 0
    assert store.db.scalar("SELECT count(*) FROM generations") == 0


def test_use_cases_refuse_names_that_are_not_text(store, tmp_path):
    with pytest.raises(InvalidRequest, match="The suite name is not valid UTF-8"):
        runs.import_suite(DATA / "ours.jsonl", BAD)
    with pytest.raises(InvalidRequest, match="The codebook name is not valid UTF-8"):
        classify.import_codebook(DATA / "cap_major_topics.csv", BAD)
    assert store.db.scalar("SELECT count(*) FROM suites WHERE name <> 'builtin'") == 0


def test_a_lone_surrogate_escape_in_an_imported_row_is_listed_by_line(tmp_path):
    """JSON may escape half a UTF-16 pair ("\\ud800"); that is not text, and the row says so
    rather than the whole import failing as a database error."""
    path = tmp_path / "qs.jsonl"
    path.write_text(
        '{"question": "fine", "category": "generic"}\n'
        '{"question": "bad \\ud800 one", "category": "generic"}\n'
    )
    done = run_cli("suite", "import", str(path), env=FAKE)
    assert done.returncode == 1
    assert "line 2: not valid JSON (U+D800 is a lone surrogate escape, which is not text)" in (
        done.stderr
    )
    done = run_cli("suite", "import", str(path), "--skip-invalid", env=FAKE)
    assert done.returncode == 0, done.stderr
    assert "imported 1 questions" in done.stderr


def test_a_lone_surrogate_escape_in_a_codebook_is_listed_by_line(tmp_path, store):
    path = tmp_path / "book.json"
    path.write_text(
        '{"labels": [{"code": "H", "name": "He\\ud800alth"}, {"code": "M", "name": "Money"},'
        ' {"code": "O", "name": "Other"}]}'
    )
    done = run_cli("classify", "codebook", str(path), "--name", "book", env=FAKE)
    assert done.returncode == 1
    assert "line 1: 'name' is not valid text: U+D800 at character 3" in done.stderr
    assert "Database error" not in done.stderr
    assert store.db.scalar("SELECT count(*) FROM cls_codebooks") == 0
