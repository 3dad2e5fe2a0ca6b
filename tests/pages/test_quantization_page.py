"""AppTest for the Quantization page: a stored ladder's table, chart and controls, and the
form's guards. Real quantization is exercised in tests/real_model/test_ladder_real.py."""

import pytest

from core.evaluation.lifecycle import RunLifecycle
from core.types import ItemKey, ItemKind, ItemOutcome, RunKind, RunStatus, RunUnit
from core.types.token_level import LadderConfig, LadderRung

CONFIG = LadderConfig(
    source="tiny.Q4_1",
    source_sha256="",
    types=("Q8_0", "Q2_K"),
    allow_requantize=True,
    text="some text",
    text_label="suite builtin",
    n_ctx=64,
)


def rung(qtype: str, name: str, ppl: float, kld: float | None, size_mib: float) -> LadderRung:
    return LadderRung(
        model_name=name,
        qtype=qtype,
        file_bytes=int(size_mib * 2**20),
        tensor_types=(("Q8_0", 10), ("F32", 3)),
        requantized=kld is not None,
        memory_mb=120.0,
        prompt_tokens_per_s=900.0,
        gen_tokens_per_s=60.0,
        gen_tokens=64,
        perplexity=ppl,
        perplexity_uncertainty=0.5,
        positions=310,
        mean_kld=kld,
        mean_kld_uncertainty=None if kld is None else 0.001,
        kld_p99=None if kld is None else 10 * kld,
        same_top=None if kld is None else 0.9,
        same_top_uncertainty=None if kld is None else 0.01,
        rms_delta_p=None if kld is None else 0.05,
        ppl_ratio=None if kld is None else ppl / 16.0,
    )


def stored_ladder(store) -> str:
    names = [("source", "tiny.Q4_1"), ("Q8_0", "tiny.Q4_1-to-Q8_0"), ("Q2_K", "tiny-to-Q2_K")]
    units = [RunUnit(i, ItemKey(ItemKind.LADDER_RUNG, q, n), "") for i, (q, n) in enumerate(names)]
    run = RunLifecycle.create(store, RunKind.LADDER, CONFIG, units)
    rows = [
        rung("source", names[0][1], 16.0, None, 90.5),
        rung("Q8_0", names[1][1], 16.2, 0.004, 138.1),
    ]
    for unit, row in zip(units, rows, strict=False):
        store.ladders.finish(run.id, unit.no, ItemOutcome("done", 1.0), row)
    store.runs.end_if_owned(
        run.id, None, RunStatus.STOPPED, "stopped on request", from_status=(RunStatus.QUEUED,)
    )
    return run.id


def test_a_stored_ladder_shows_its_table_chart_and_resume(open_page, fake_mode, store):
    run_id = stored_ladder(store)
    at = open_page("pages/quantization.py")
    assert at.selectbox(key="quant_pick").value == run_id
    [table] = [d.value for d in at.dataframe]
    assert list(table["Type"]) == ["source", "Q8_0"]  # the third rung is not measured yet
    assert table["Mean KLD (nats)"].iloc[1] == 0.004
    assert table["File (MiB)"].iloc[1] == pytest.approx(138.1, abs=0.01)
    assert "Q8_0 ×10, F32 ×3" in table["Tensor types"].iloc[0]
    assert any("relative to it" in w.value for w in at.warning)  # requantized copies
    assert not at.button(key="quant_resume").disabled  # stopped: can resume
    assert at.button(key="quant_stop").disabled
    assert any("2 of 3" in m.value for m in at.markdown)  # progress line
    assert at.get("plotly_chart")


def test_deleting_a_ladder_needs_confirmation_and_keeps_files(open_page, fake_mode, store):
    run_id = stored_ladder(store)
    at = open_page("pages/quantization.py")
    assert at.button(key="quant_delete").disabled
    at.checkbox(key=f"quant_delete_confirm_{run_id}").check().run()
    at.button(key="quant_delete").click().run()
    assert not at.exception
    assert store.ladders.rungs(run_id) == []
    assert any("files stay" in i.value for i in at.info)


def test_the_form_needs_a_text_and_types(open_page, fake_mode):
    at = open_page("pages/quantization.py")
    at.radio(key="quant_kind").set_value("Pasted text").run()
    assert at.button(key="quant_start").disabled  # no text yet
    at.text_area(key="quant_text").set_value("Some words to measure on.").run()
    at.multiselect(key="quant_types").set_value([]).run()
    assert at.button(key="quant_start").disabled  # no type chosen
    assert any("No ladder yet" in c.value for c in at.caption)
