"""The optional [train] packages (pyproject.toml): checked and imported only when someone
trains or writes an adapter, so that the dashboard and the CLI start without them and say
how to add them (core/errors.TrainingUnavailable).

OpenMP: torch's threads spin while they wait by default, which made LoRA training about 10x
slower (15-17 instead of 130-150 tokens/s with SmolLM2 on 2 cores) whenever another process
used the cores. OMP_WAIT_POLICY=PASSIVE fixes that, but libgomp reads it once, when it is
loaded, and llama.cpp loads the same libgomp.so.1 as torch: a process that will train must
set it before it lists or loads any model (prefer_passive_openmp)."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from types import ModuleType

from core.errors import TrainingUnavailable

TRAINING_PACKAGES = ("torch", "transformers", "peft", "gguf", "safetensors")
OPENMP_WAIT = "OMP_WAIT_POLICY"

log = logging.getLogger(__name__)


def _openmp_loaded() -> bool:
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            return any("libgomp" in line for line in maps)
    except OSError:  # not Linux: nothing to tell
        return False


def prefer_passive_openmp() -> bool:
    """Ask OpenMP threads to sleep rather than spin while they wait; call it before anything
    loads llama.cpp or torch. Returns False (and logs why) when it comes too late; a policy
    the user set is left alone."""
    if os.environ.get(OPENMP_WAIT):
        return True  # chosen already: by the user, or by an earlier call in time
    os.environ[OPENMP_WAIT] = "PASSIVE"
    if _openmp_loaded():
        log.warning(
            "OpenMP was loaded before %s=PASSIVE was set; training may run several times "
            "slower while other processes use the CPU.",
            OPENMP_WAIT,
        )
        return False
    return True


def missing_training_package(names: tuple[str, ...] = TRAINING_PACKAGES) -> str | None:
    """The first of `names` that cannot be imported, without importing any (torch alone takes
    seconds); None when all can."""
    for name in names:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is None:
            return name
    return None


def require_training_packages(names: tuple[str, ...] = TRAINING_PACKAGES) -> None:
    missing = missing_training_package(names)
    if missing:
        raise TrainingUnavailable(missing)


def import_training(name: str) -> ModuleType:
    """Import one training package, or say which is missing and how to add it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise TrainingUnavailable(name.split(".")[0]) from exc
