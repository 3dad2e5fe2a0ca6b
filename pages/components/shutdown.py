"""The dashboard's runs when its process exits (SIGTERM from a service manager, Ctrl+C).

Streamlit (1.65 and later) runs page scripts on daemon threads: on SIGTERM the server stops
and the process exits at once, without waiting for a page that is inside a model call, which
makes no st.* call to be interrupted at for seconds (before 1.65 the process waited for it).
A refinement that page was streaming would be left "running", and a model call still under
way crashed the exit (SIGSEGV in ggml as the libraries unloaded). Exit handlers run on the
main thread after the server has stopped and before those threads are dropped, so one ends
the runs this process works on as stopped and keeps that crash from happening."""

import atexit

from core.app.shutdown import exit_cleanly
from core.config import Settings

_registered = False


def stop_runs_at_exit(cfg: Settings) -> None:
    """Once per process, for the store the dashboard works on (a second registration after
    a module reload does no harm: the handler only ends runs that are still running)."""
    global _registered
    if not _registered:
        atexit.register(exit_cleanly, cfg)
        _registered = True
