"""`perfics endpoints list|add|remove|check` and endpoint models in `perfics models`."""

import json
import socket

import pytest

from core.app import context
from core.app.cli import main
from core.engine.endpoint_config import load_endpoints
from tests.support import SMOLLM2


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_add_list_and_remove(capsys, monkeypatch):
    monkeypatch.setenv("LAB_KEY", "sk-do-not-print")
    code, _, err = _run(
        capsys,
        "endpoints", "add", "lab",
        "--url", "http://192.0.2.1:8000/v1/", "--url", "http://192.0.2.2:8000/v1",
        "--model", "big", "--api-key-env", "LAB_KEY", "--max-concurrency", "3",
    )  # fmt: skip
    assert code == 0 and "data leaves this machine" in err
    assert (
        _run(capsys, "endpoints", "add", "near", "--url", "http://127.0.0.1:9/v1", "--model", "m")[
            0
        ]
        == 0
    )
    config = load_endpoints(context.settings().endpoints_path).named("lab")
    assert config.urls == ("http://192.0.2.1:8000/v1", "http://192.0.2.2:8000/v1")

    code, out, _ = _run(capsys, "endpoints", "list", "--json")
    listed = json.loads(out)
    assert "sk-do-not-print" not in out
    lab, near = listed["endpoints"]
    assert (lab["name"], lab["capacity"], lab["key_set"], lab["leaves_machine"]) == (
        "lab",
        6,
        True,
        True,
    )
    assert (near["key_set"], near["leaves_machine"]) == (None, False)
    assert listed["problems"] == []

    code, out, _ = _run(capsys, "endpoints", "list")
    assert "lab: model 'big', 3 in flight per URL (6 in all)" in out
    assert "key from $LAB_KEY (set)" in out and "** data leaves this machine **" in out
    assert "sk-do-not-print" not in out

    assert _run(capsys, "endpoints", "remove", "lab")[0] == 0
    assert [c.name for c in load_endpoints(context.settings().endpoints_path).configs] == ["near"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["near", "--url", "http://127.0.0.1:1/v1", "--model", "m"],
            "already an endpoint named near",
        ),
        ([SMOLLM2, "--url", "http://127.0.0.1:1/v1", "--model", "m"], "name of the model file"),
        (["x", "--url", "file:///etc/passwd", "--model", "m"], "http:// or https://"),
        (
            ["x", "--url", "http://127.0.0.1:1/v1", "--model", "m", "--api-key-env", "sk-abc"],
            "NAME of an environment variable",
        ),
        (["x", "--url", "http://127.0.0.1:1/v1", "--model", "m", "--max-concurrency", "0"], "1-64"),
    ],
)
def test_add_refuses_with_a_clear_error(capsys, argv, message):
    assert (
        _run(capsys, "endpoints", "add", "near", "--url", "http://127.0.0.1:9/v1", "--model", "m")[
            0
        ]
        == 0
    )
    code, out, err = _run(capsys, "endpoints", "add", *argv)
    assert code == 1 and message in err and "Traceback" not in err
    assert "sk-abc" not in err  # a key given as the variable's name is never repeated
    assert len(load_endpoints(context.settings().endpoints_path).configs) == 1


def test_list_reports_entries_that_are_not_used(capsys):
    path = context.settings().endpoints_path
    path.parent.mkdir(parents=True)
    path.write_text('[[endpoint]]\nname = "half"\nbase_url = "http://127.0.0.1:1/v1"\n')
    code, out, _ = _run(capsys, "endpoints", "list")
    assert code == 0 and "half: NOT USED: Endpoint is missing model" in out
    problems = json.loads(_run(capsys, "endpoints", "list", "--json")[1])["problems"]
    assert problems == [{"reason": "Endpoint is missing model", "entry": 1, "name": "half"}]


def test_check_answers_for_a_live_server_and_fails_clearly_for_a_dead_one(capsys, openai_stub):
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    for name, url in (("live", openai_stub.url), ("dead", dead)):
        assert _run(capsys, "endpoints", "add", name, "--url", url, "--model", "m")[0] == 0
    code, out, err = _run(capsys, "endpoints", "check", "live")
    assert code == 0 and out.startswith("live: up")
    code, out, err = _run(capsys, "endpoints", "check", "--json")
    results = {r["name"]: r for r in json.loads(out)}
    assert code == 1
    assert results["live"]["ok"] and not results["dead"]["ok"]
    assert dead in results["dead"]["error"]
    code, out, err = _run(capsys, "endpoints", "check", "dead")
    assert (
        code == 1 and out.startswith("dead: FAILED: Endpoint dead") and "Traceback" not in out + err
    )
    code, _, err = _run(capsys, "endpoints", "check", "nobody")
    assert code == 1 and "No endpoint named 'nobody'" in err


def test_models_lists_endpoint_models(capsys, fake_mode):
    _run(capsys, "endpoints", "add", "far", "--url", "http://192.0.2.1/v1", "--model", "big")
    code, out, _ = _run(capsys, "models")
    assert code == 0
    assert (
        "far" in out
        and "endpoint: model 'big' at http://192.0.2.1/v1  (data leaves this machine)" in out
    )
    rows = {r["name"]: r for r in json.loads(_run(capsys, "models", "--json")[1])["models"]}
    assert rows["far"]["leaves_machine"] and rows["far"]["endpoint"]["model"] == "big"
    assert not rows[SMOLLM2]["leaves_machine"] and rows[SMOLLM2]["endpoint"] is None
