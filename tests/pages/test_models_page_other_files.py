"""The Models page shows every path in the models folder: .gguf names that are not model files
as unusable rows, the other paths folded away with the reason; the picker is unchanged."""

import os
import socket

from tests.support import MODELS_DIR, SMOLLM2


def test_the_models_page_lists_every_path_in_the_models_folder(open_page, monkeypatch, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "folder.gguf").mkdir()
    (folder / "loop.gguf").symlink_to("loop.gguf")
    os.mkfifo(folder / "pipe.gguf")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "socket.gguf"))
    (folder / "README.md").write_text("notes")
    (folder / "old").mkdir()
    (folder / "old" / "m.gguf").write_bytes(b"GGUF")
    (folder / "adapters").mkdir()
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(folder))
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    at = open_page()

    table = at.dataframe[0].value.set_index("name")
    assert not table.loc[["folder", "loop", "pipe", "socket"], "usable"].any()
    assert table.loc["loop", "reason"].startswith("a symbolic link loop")
    assert at.selectbox(key="models_model").options == ["fake-echo"]
    (other,) = [e for e in at.expander if e.label.startswith("Other files")]
    assert other.label == "Other files in the models folder (2)"
    listed = other.dataframe[0].value.set_index("name")["reason"].to_dict()
    assert listed == {
        "old": (
            "a folder: subfolders are not searched (only adapters/ is); move its 1 .gguf "
            "file(s) up into the models folder to use them"
        ),
        "README.md": "not a .gguf file — ignored",
    }


def test_no_expander_when_the_folder_holds_only_models(open_page, monkeypatch, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / f"{SMOLLM2}.gguf").symlink_to(MODELS_DIR / f"{SMOLLM2}.gguf")
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(folder))
    at = open_page()
    assert at.selectbox(key="models_model").value == SMOLLM2
    assert not [e for e in at.expander if e.label.startswith("Other files")]
