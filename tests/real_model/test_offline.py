"""Generation must work with the network cut off and must not even try to reach it."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support import run_cli

pytestmark = pytest.mark.real_model

# Installed through sitecustomize so it is active before any project or library import.
# An audit hook sees every socket connect and DNS lookup made through Python.
GUARD = textwrap.dedent(
    """
    import ipaddress, os, sys

    LOG = os.environ["NETGUARD_LOG"]

    def _loopback(host):
        if host in ("localhost", "", None):
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False

    def _guard(event, args):
        host = None
        if event == "socket.connect" and isinstance(args[1], tuple):
            host = args[1][0]
        elif event in ("socket.getaddrinfo", "socket.gethostbyname"):
            host = args[0]
        else:
            return
        if isinstance(host, bytes):
            host = host.decode()
        if not _loopback(host):
            with open(LOG, "a") as fh:
                fh.write(f"{event} {host}\\n")
            raise ConnectionRefusedError(f"network disabled by test: {event} {host}")

    sys.addaudithook(_guard)
    """
)


def test_generate_makes_no_outbound_connection(tmp_path):
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "attempts.log"
    env = {"PYTHONPATH": str(guard_dir), "NETGUARD_LOG": str(log)}

    # The guard itself must be live, or this test could never fail.
    check = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('192.0.2.1', 80), 1)"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert "network disabled by test" in check.stderr
    log.unlink()

    result = run_cli(
        "generate",
        "--model",
        "smol",
        "--prompt",
        "Say hello.",
        "--temperature",
        "0",
        "--max-tokens",
        "16",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["completion_tokens"] > 0
    assert not log.exists(), log.read_text()
