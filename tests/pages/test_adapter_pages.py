"""LoRA adapters on the pages (fake backend): the Models page lists "<base>+<adapter>" models
and their manifests, answers with one, and the Quantization page does not offer them."""

import duckdb

from core.types.finetune import MANIFEST_FILE
from tests.lora_support import SMOLLM2_FILE, TUNED, ZERO, linked_models, write_adapter
from tests.support import SMOLLM2


def _models_dir(tmp_path, adapter_models_dir):
    """The shared adapters plus one whose manifest is broken."""
    folder = linked_models(tmp_path / "models", SMOLLM2_FILE)
    (folder / "adapters").mkdir()
    for name in ("tuned", "zero"):
        (folder / "adapters" / name).symlink_to(adapter_models_dir / "adapters" / name)
    broken = write_adapter(folder, "broken", rank=2)
    (broken / MANIFEST_FILE).write_text("{")
    return folder


def test_models_page_lists_adapters_and_answers_with_one(
    open_page, monkeypatch, tmp_path, adapter_models_dir
):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(_models_dir(tmp_path, adapter_models_dir)))
    at = open_page()
    models = at.dataframe[0].value.set_index("name")
    assert {SMOLLM2, TUNED, ZERO, "adapters/broken"} <= set(models.index)
    assert models.loc[TUNED, "usable"] and not models.loc["adapters/broken", "usable"]
    adapters = at.dataframe[1].value.set_index("name")
    assert list(adapters.index) == [TUNED, ZERO, "adapters/broken"]
    tuned = adapters.loc[TUNED]
    assert (tuned.base, tuned.dataset, tuned.train_size) == (SMOLLM2, "bills", 120)
    assert tuned.validation_loss == 0.9 and tuned.metrics == "accuracy 0.60 [0.50–0.70] (n=40)"
    assert adapters.loc["adapters/broken", "reason"].startswith("manifest.json cannot be read")
    assert "LoRA adapters" in [h.value for h in at.subheader]
    # Chosen like any model: the answer is stored under the adapter's name.
    choice = at.selectbox(key="models_model")
    assert TUNED in choice.options and "adapters/broken" not in choice.options
    choice.set_value(TUNED)
    at.text_area(key="models_prompt").set_value("Hello there")
    at.button(key="FormSubmitter:models_try-Generate").click()
    at.run()
    assert not at.exception and not at.error
    with duckdb.connect(str(tmp_path / "db" / "perfics.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT model_name, model_sha256 FROM generations").fetchall()
        known = dict(con.execute("SELECT name, sha256 FROM models").fetchall())
    assert stored == [(TUNED, known[TUNED])] and known[TUNED] != known.get(SMOLLM2)


def test_without_adapters_the_models_page_has_no_adapter_table(open_page, monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    at = open_page()
    other_files = [e for e in at.expander if e.label.startswith("Other files")]  # models/README.md
    assert len(at.dataframe) == 1 + sum(len(e.dataframe) for e in other_files)
    assert "LoRA adapters" not in [h.value for h in at.subheader]


def test_quantization_page_offers_model_files_only(
    open_page, monkeypatch, tmp_path, adapter_models_dir
):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(_models_dir(tmp_path, adapter_models_dir)))
    at = open_page("pages/quantization.py")
    options = at.selectbox(key="quant_source").options
    assert SMOLLM2 in options and TUNED not in options and ZERO not in options
