"""A real OpenAI-compatible server for the endpoint tests: `python -m llama_cpp.server` serving
the default SmolLM2 file on 127.0.0.1 and a free port, started, killed and restarted by tests.

llama_cpp.server defaults to logits_all=True and n_ctx=2048; both are set explicitly, and
interrupt_requests is turned off. It serves one request at a time, so requests in flight
beyond one queue inside the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from core.types import EndpointConfig
from tests.support import MODELS_DIR, SMOLLM2

READY_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """One llama_cpp.server process; `stop`, `kill` and `start` again keep its port, as a
    server that goes away and comes back does."""

    def __init__(self, log_dir: Path, model: Path | None = None, port: int | None = None):
        self.model = model or MODELS_DIR / f"{SMOLLM2}.gguf"
        self.port = port or free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def endpoint(self, name: str = "smol-server", **fields) -> EndpointConfig:
        return EndpointConfig(name=name, base_url=self.base_url, model="smollm2", **fields)

    def start(self) -> LocalServer:
        self.starts += 1
        self.log = self.log_dir / f"llama-server-{self.port}-{self.starts}.log"
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "2048",
            "--logits_all",
            "false",
            "--seed",
            "0",
            "--n_threads",
            "1",
            # By default a new request cuts the one being streamed, which then ends with
            # [DONE] and no finish reason; with two in flight they keep cutting each other.
            "--interrupt_requests",
            "false",
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as reply:
                    if json.load(reply).get("data"):
                        return
            time.sleep(0.3)
        self.kill()
        raise RuntimeError(f"llama_cpp.server not ready after {READY_TIMEOUT_S} s")

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-request, as a crashed or unplugged one does."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
