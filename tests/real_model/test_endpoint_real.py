"""Endpoints against a real OpenAI-compatible server: `python -m llama_cpp.server` serving the
same SmolLM2 file as the local model, on 127.0.0.1 and a free port (tests/server_support.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from core.app import context
from core.engine.endpoint import EndpointBackend
from core.engine.endpoint_config import endpoint_model_info, save_endpoints
from core.types import EndpointConfig, RunStatus, SamplerSettings
from tests.support import CLI, ROOT, SMOLLM2, assert_no_duplicates, run_cli

pytestmark = pytest.mark.real_model

SERVED = "served-smollm2"
GREEDY = SamplerSettings(temperature=0.0, seed=0, max_tokens=24)


def declare(*configs) -> None:
    save_endpoints(context.settings().endpoints_path, list(configs))


def test_endpoint_answers_as_the_same_file_does_in_process(llama_server, smollm2):
    """The server runs the same GGUF through the same llama.cpp: at temperature 0 its answer is
    the in-process one, and the generation says which endpoint and server made it."""
    messages = [{"role": "user", "content": "Name three primary colours."}]
    pieces: list[str] = []
    backend = EndpointBackend(endpoint_model_info(llama_server.endpoint(SERVED)))
    served = backend.chat(messages, GREEDY, pieces.append)
    local = smollm2.chat(messages, GREEDY)
    assert served.text == local.text
    assert "".join(pieces) == served.text
    assert served.completion_tokens == local.completion_tokens
    assert served.endpoint == SERVED and served.endpoint_url == llama_server.base_url
    assert "uvicorn" in (served.server or "")
    assert 0 < served.ttft_s <= served.total_s
    assert served.finish_reason in ("stop", "length")


def test_refine_through_an_endpoint_is_stored_with_its_provenance(llama_server, store):
    declare(llama_server.endpoint(SERVED))
    out = run_cli(
        "refine", "--model", SERVED, "--prompt", "Give one tip for sleeping well.",
        "--rounds", "1", "--max-tokens", "32", "--temperature", "0", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = store.db.rows(
        "SELECT kind, model_name, endpoint, endpoint_url, server FROM generations ORDER BY step"
    )
    kinds = [r[0] for r in rows]
    assert kinds[0] == "baseline" and {"critique", "refined"} <= set(kinds)
    assert {(r[1], r[2], r[3]) for r in rows} == {(SERVED, SERVED, llama_server.base_url)}
    assert all("uvicorn" in r[4] for r in rows)


def _done_units(store, run_id: str) -> int:
    return store.db.rows(
        "SELECT count(*) FROM run_items WHERE run_id = ? AND status = 'done'", [run_id]
    )[0][0]


def test_judged_run_with_concurrency_2_survives_a_server_kill(llama_server, store, tmp_path):
    """The done-when run, small: local SmolLM2 against the same file behind the server, judged
    by the server with two requests in flight. The server is killed mid-run: the run stops
    resumable, naming the endpoint; once the server is back, resuming finishes every unit once."""
    declare(llama_server.endpoint(SERVED, max_concurrency=2))
    run = subprocess.Popen(
        [*CLI, "run", "--suite", "builtin", "--models", f"{SMOLLM2},{SERVED}", "--judge", SERVED,
         "--limit", "4", "--rounds", "1", "--max-tokens", "24", "--temperature", "0", "--quiet",
         "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    run_id = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and run.poll() is None:
        ids = store.db.rows("SELECT id FROM runs")
        if ids and _done_units(store, ids[0][0]) >= 2:
            run_id = ids[0][0]
            break
        time.sleep(0.5)
    assert run_id, f"no two units finished: {run.poll()} {run.stderr.read()[-2000:]}"
    llama_server.kill()
    out, err = run.communicate(timeout=300)
    assert run.returncode != 0
    assert "Traceback" not in err
    assert SERVED in err and llama_server.base_url in err, err
    assert f"perfics run --resume {run_id}" in err
    record = store.runs.get(run_id)
    assert record.status in (RunStatus.FAILED, RunStatus.INTERRUPTED)
    done_before = _done_units(store, run_id)
    assert done_before < record.total_units

    llama_server.start()
    resumed = run_cli("run", "--resume", run_id, "--quiet", "--json", timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    record = store.runs.get(run_id)
    assert record.status == RunStatus.COMPLETED
    assert _done_units(store, run_id) == record.total_units
    assert_no_duplicates(store, run_id)
    per_unit = store.db.rows(
        "SELECT item_no, count(*) FROM run_items WHERE run_id = ? GROUP BY item_no HAVING "
        "count(*) > 1",
        [run_id],
    )
    assert per_unit == []
    served = store.db.rows(
        "SELECT count(*), count(DISTINCT endpoint) FROM generations WHERE run_id = ? AND "
        "model_name = ?",
        [run_id, SERVED],
    )[0]
    assert served[0] > 0 and served[1] == 1
    judged = store.db.rows("SELECT count(*) FROM judgments WHERE run_id = ?", [run_id])[0][0]
    assert judged > 0


# Every socket connect and name lookup made through Python, to a file; anything but loopback
# is refused as well.
AUDIT = textwrap.dedent(
    """
    import ipaddress, os, sys

    LOG = os.environ["NETAUDIT_LOG"]

    def _loopback(host):
        try:
            return host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False

    def _audit(event, args):
        if event == "socket.connect" and isinstance(args[1], tuple):
            host = args[1][0]
        elif event in ("socket.getaddrinfo", "socket.gethostbyname"):
            host = args[0]
        else:
            return
        host = host.decode() if isinstance(host, bytes) else str(host)
        with open(LOG, "a") as fh:
            fh.write(f"{event} {host} {args[1] if event == 'socket.connect' else ''}\\n")
        if not _loopback(host):
            raise ConnectionRefusedError(f"network disabled by test: {event} {host}")

    sys.addaudithook(_audit)
    """
)


def test_only_the_endpoint_used_is_contacted_and_only_on_loopback(llama_server, tmp_path):
    """With a remote endpoint declared beside the local server, listing models and generating
    with the local file contact nothing, and generating with the served model contacts only
    the server's loopback port."""
    far = EndpointConfig(name="far-away", base_url="http://192.0.2.10:8000/v1", model="big")
    declare(llama_server.endpoint(SERVED), far)
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(AUDIT)
    log = tmp_path / "connections.log"
    env = {"PYTHONPATH": str(guard), "NETAUDIT_LOG": str(log)}

    check = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('192.0.2.1', 80), 1)"],
        env={**env}, capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode != 0 and "192.0.2.1" in log.read_text()
    log.unlink()

    listed = run_cli("models", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    names = {m["name"] for m in json.loads(listed.stdout)["models"]}
    assert {SERVED, "far-away", SMOLLM2} <= names
    local = run_cli("generate", "--model", SMOLLM2, "--prompt", "Hi", "--max-tokens", "4", env=env)
    assert local.returncode == 0, local.stderr
    assert not log.exists() or log.read_text() == ""

    served = run_cli("generate", "--model", SERVED, "--prompt", "Hi", "--max-tokens", "4", env=env)
    assert served.returncode == 0, served.stderr
    contacts = log.read_text().splitlines()
    assert contacts, "the served model was reached without a socket?"
    assert all(
        f"'127.0.0.1', {llama_server.port}" in line for line in contacts if "connect" in line
    )
    assert not any("192.0.2" in line for line in contacts)


def test_two_local_models_never_decode_at_once(smollm2, real_models):
    """Every GGUF model in the process shares one lock: while one generates (here, held inside
    its token callback), another local model's call waits instead of sharing the cores, so
    the speeds stored for either are its own (a concurrent run's endpoint units may call a
    local judge while the local lane runs another local model)."""
    import threading

    from core.engine.llama import LlamaBackend
    from core.engine.registry import resolve

    other = LlamaBackend(resolve(SMOLLM2, real_models), n_ctx=512, threads=1)
    try:
        assert other.lock is smollm2.lock
        other_tokens: list[str] = []
        other_done = threading.Event()
        seen_while_held: list[int] = []

        def second_call() -> None:
            other.chat([{"role": "user", "content": "Hi"}], GREEDY, other_tokens.append)
            other_done.set()

        def first_token(piece: str) -> None:
            if not seen_while_held:
                thread = threading.Thread(target=second_call)
                thread.start()
                other_done.wait(1.0)  # long enough for SmolLM2 to answer, were it free to
                seen_while_held.append(len(other_tokens))

        smollm2.chat([{"role": "user", "content": "Count to five."}], GREEDY, first_token)
        assert other_done.wait(120)
        assert seen_while_held == [0]
        assert other_tokens  # and it did answer once the first call ended
    finally:
        other.close()
