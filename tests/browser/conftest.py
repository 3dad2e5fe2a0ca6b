"""A real `streamlit run` of the dashboard on a free loopback port, and Debian chromium."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import CHROMIUM_FLAGS, ROOT, chromium_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(tmp_path):
    """serve(db, **env) starts the dashboard on that database and returns its URL. The
    server writes its output to a file (serve.logs), never to a pipe nobody reads: a full
    pipe would block the server's own writes on a busy machine."""
    procs: list[subprocess.Popen] = []
    logs: list[Path] = []

    def start(db, **env) -> str:
        port = _free_port()
        log = tmp_path / f"streamlit-{port}.log"
        logs.append(log)
        out = log.open("w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.headless",
                "true",
            ],
            cwd=ROOT,
            env={**os.environ, "PERFICS_DB": str(db), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()  # the child holds its own copy
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as resp:
                    if resp.status == 200:
                        return url
            except OSError:
                time.sleep(0.3)
        proc.kill()
        pytest.fail(f"streamlit did not start: {log.read_text(errors='replace')[-3000:]}")

    start.processes = procs  # for a test that signals the server itself
    start.logs = logs
    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    assert chromium_path(), "Debian chromium is missing; `make test` installs it with apt"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()
