"""What is wrong with the models folder as a whole, in one sentence.

The model list says why each file cannot be used, but a folder that is missing, not a folder
or empty leaves that list blank, and under PERFICS_BACKEND=fake (or with endpoints declared)
the model pickers are not empty either: every page says it here, so nobody is left guessing
why their models are not there.
"""

from __future__ import annotations

from pathlib import Path

from core.config import Settings, get_settings

_WHERE = "set PERFICS_MODELS_DIR to the folder that holds your .gguf files"


def models_folder_problem(cfg: Settings | None = None) -> str | None:
    """None when the folder holds at least one .gguf entry (usable or not: the model list
    says which); otherwise what is wrong and what to do about it."""
    folder = (cfg or get_settings()).models_dir
    shown = folder.absolute()
    try:
        exists, is_folder = folder.exists(), folder.is_dir()
    except OSError as exc:  # a folder on the way cannot be entered
        return f"The models folder {shown} cannot be reached ({exc.strerror or exc}): {_WHERE}."
    if not exists:
        return (
            f"The models folder {shown} does not exist. Create it and copy .gguf files into "
            f"it (make models places the default ones), or {_WHERE}; then press Rescan models."
        )
    if not is_folder:
        return f"The models folder {shown} is a file, not a folder: {_WHERE}."
    try:
        found = any(_is_model_name(entry) for entry in folder.iterdir())
    except OSError as exc:
        return f"The models folder {shown} cannot be read ({exc.strerror or exc}): {_WHERE}."
    if found:
        return None
    return (
        f"The models folder {shown} holds no .gguf files. Copy some into it (make models "
        "places the default ones), then press Rescan models."
    )


def _is_model_name(entry: Path) -> bool:
    return entry.suffix.lower() == ".gguf"
