"""The one sentence every page's sidebar shows about a models folder that holds no models."""

from pathlib import Path

from core.app.models_folder import models_folder_problem
from core.config import Settings


def _problem(folder) -> str | None:
    return models_folder_problem(Settings(models_dir=folder))


def test_a_missing_folder_is_named_with_what_to_do(tmp_path):
    folder = tmp_path / "nowhere"
    problem = _problem(folder)
    assert problem.startswith(f"The models folder {folder} does not exist.")
    assert "PERFICS_MODELS_DIR" in problem
    assert not folder.exists()  # looked at, not created


def test_a_file_in_place_of_the_folder(tmp_path):
    folder = tmp_path / "models"
    folder.write_text("not a folder")
    assert "is a file, not a folder" in _problem(folder)


def test_a_folder_without_gguf_files(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "hidden.gguf").write_bytes(b"GGUF")  # subfolders are not searched
    assert "holds no .gguf files" in _problem(tmp_path)


def test_any_gguf_entry_is_left_to_the_model_list(tmp_path):
    """Usable or not (here: not a GGUF file at all), the model list says what is wrong."""
    (tmp_path / "Broken.GGUF").write_text("hello")
    assert _problem(tmp_path) is None


def test_a_relative_folder_is_shown_in_full(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert f"{tmp_path / 'models'} does not exist" in _problem(Path("models"))
