"""Checks a coding answer by running its Python code followed by the question's test code.

The code runs in a separate Python process (`-I`, a fresh temporary folder, its own process
group, stdin closed) under a wall-clock time limit. A short prelude first refuses socket
creation and name lookups and sets resource limits on memory, CPU time and file size.

This is a best-effort guard against accidents (an endless loop, a runaway allocation, a
stray download), NOT a security sandbox. The code runs as our user, can read and write any
file we can, can start processes, and can undo the prelude (for instance by loading a C
library); a process that starts its own session escapes the time limit's kill. Only check
answers from models you run yourself, never code you would not run by hand.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

TIME_LIMIT_S = 10.0
MEMORY_LIMIT_BYTES = 1 << 30
OUTPUT_LIMIT_BYTES = 16 << 20  # keeps a print loop from filling the disk before the timeout
CPU_MARGIN_S = 2  # the wall-clock timeout should fire first; RLIMIT_CPU is the backstop
NETWORK_ERROR = "NetworkDisabled"
_REASON_CHARS = 300

# Runs as the child's __main__. The answer and the tests share one module named `solution`
# (a real module, so dataclasses, pickle and typing.get_type_hints can find it); its name
# is not "__main__" so an answer's demo block, which often reads input(), does not run.
_PRELUDE = f"""\
import _socket, resource, socket, sys, traceback, types

class {NETWORK_ERROR}(PermissionError):
    pass

def _refuse(*args, **kwargs):
    raise {NETWORK_ERROR}("network access is disabled while checking an answer")

# Subclasses, not plain functions, so `class X(socket.socket)` in ssl or asyncio still works.
# Wrapping a descriptor that exists already stays allowed: socketpair() (which asyncio needs)
# builds its sockets that way, and only creating a new socket can reach the network.
def _wraps_fd(args, kwargs):
    return kwargs.get("fileno") is not None or (len(args) > 3 and args[3] is not None)

class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        if not _wraps_fd(args, kwargs):
            _refuse()
        super().__init__(*args, **kwargs)

# socket.socket.__init__ calls `_socket.socket.__init__(self, …)` by name, so this one must
# call the original explicitly: `self` is then a socket.socket, not one of ours.
_RawSocket = _socket.socket

class _NoRawSocket(_RawSocket):
    def __init__(self, *args, **kwargs):
        if not _wraps_fd(args, kwargs):
            _refuse()
        _RawSocket.__init__(self, *args, **kwargs)

socket.socket, _socket.socket = _NoSocket, _NoRawSocket
socket.create_connection = socket.getaddrinfo = _socket.getaddrinfo = _refuse

def _limit(which, value):
    hard = resource.getrlimit(which)[1]
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))

_limit(resource.RLIMIT_AS, {MEMORY_LIMIT_BYTES})
_limit(resource.RLIMIT_FSIZE, {OUTPUT_LIMIT_BYTES})
_limit(resource.RLIMIT_CPU, int(sys.argv[1]))

solution = types.ModuleType("solution")
sys.modules["solution"] = solution
try:
    for name in ("solution.py", "tests.py"):
        with open(name, encoding="utf-8") as source:
            exec(compile(source.read(), name, "exec"), solution.__dict__)
except BaseException as exc:  # SystemExit too: an answer must not end the check early
    traceback.print_exc()
    with open("error", "w", encoding="utf-8") as note:
        note.write(traceback.format_exception_only(exc)[-1].strip())
    sys.exit(1)
open("passed", "w").close()
"""

# A fence opens at the start of a line with ``` and an optional language, and closes with ```.
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
_PYTHON_FENCES = ("", "python", "python3", "py")


@dataclass(frozen=True)
class CodeCheck:
    passed: bool
    reason: str  # "passed", "failed: …", "timed out after 10 s", "no code in the answer"


def extract_code(answer: str) -> str:
    """The last ```python (or bare ```) block of the answer; without fences, the whole answer
    if it is Python at all, else "" (prose alone is "no code", not a syntax error)."""
    blocks = [body for lang, body in _FENCE.findall(answer) if lang.lower() in _PYTHON_FENCES]
    if blocks:
        return textwrap.dedent(blocks[-1]).strip()
    if "```" in answer:
        return ""  # fenced, but in another language
    try:
        compile(answer, "answer", "exec")
    except (SyntaxError, ValueError):
        return ""
    return answer.strip()


def run_tests(code: str, tests: str, timeout_s: float = TIME_LIMIT_S) -> CodeCheck:
    """Run `code` then `tests` in one fresh Python process; passed iff it exits with 0."""
    if not code.strip():
        return CodeCheck(False, "no code in the answer")
    with tempfile.TemporaryDirectory(prefix="perfics-check-", ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        (folder / "solution.py").write_text(code, encoding="utf-8")
        (folder / "tests.py").write_text(textwrap.dedent(tests), encoding="utf-8")
        (folder / "prelude.py").write_text(_PRELUDE, encoding="utf-8")
        cpu_s = math.ceil(timeout_s) + CPU_MARGIN_S
        # Output goes to files, not pipes: a chatty answer can neither block nor bloat us.
        with open(folder / "stdout", "wb") as out, open(folder / "stderr", "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "prelude.py", str(cpu_s)],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env={"PATH": os.environ.get("PATH", ""), "HOME": tmp, "LANG": "C.UTF-8"},
                start_new_session=True,
            )
            try:
                returncode = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                returncode = None
            finally:
                _kill_group(proc)
        if returncode is None:
            return CodeCheck(False, f"timed out after {timeout_s:g} s")
        if returncode == 0 and (folder / "passed").exists():
            return CodeCheck(True, "passed")
        if returncode < 0:
            return CodeCheck(False, f"failed: killed by {_signal_name(-returncode)}")
        error = _last_line(folder / "error") or _last_line(folder / "stderr")
        if returncode == 0:  # os._exit(0) in the answer skips the tests and our marker
            error = "the process exited before the tests finished"
        return CodeCheck(False, f"failed: {error or f'exit status {returncode}'}")


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the whole process group, so nothing the answer started outlives the check."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already
    proc.wait()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _last_line(path: Path) -> str:
    if not path.exists():
        return ""
    with open(path, "rb") as stream:
        stream.seek(max(0, path.stat().st_size - 4096))
        tail = stream.read().decode("utf-8", errors="replace")
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:_REASON_CHARS] if lines else ""
