"""A process that exits while another thread is inside a model call (issue 15): SIGTERM to the
dashboard stops its server at once and leaves a page's daemon thread evaluating a prompt.
The C libraries unloading under that computation crashed the process (SIGSEGV in ggml); with
the dashboard's exit handler (core/app/shutdown.exit_cleanly) it ends with status 0 and its
output flushed."""

import subprocess
import sys
import textwrap

import pytest

from tests.support import ROOT, SMOLLM2

pytestmark = pytest.mark.real_model

EXIT_WHILE_COMPUTING = textwrap.dedent(
    f"""
    import atexit, sys, threading, time
    from core.app import context
    from core.app.shutdown import exit_cleanly
    from core.types import SamplerSettings

    backend = context.load_backend({SMOLLM2!r})
    settings = SamplerSettings(temperature=0.0, max_tokens=2000)
    prompt = "Tell me a very long story about a lighthouse keeper. " * 40
    threading.Thread(target=backend.complete, args=(prompt, settings), daemon=True).start()
    while backend.lock.acquire(blocking=False):  # until the thread is inside the model call
        backend.lock.release()
        time.sleep(0.001)
    atexit.register(exit_cleanly, context.settings())
    print("exiting while the model computes")
    sys.exit(0)
    """
)


@pytest.mark.parametrize("attempt", range(3))
def test_exiting_during_a_model_call_is_clean(tmp_path, attempt):
    done = subprocess.run(
        [sys.executable, "-c", EXIT_WHILE_COMPUTING],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "exiting while the model computes\n"
