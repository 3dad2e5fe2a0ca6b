"""Endpoint models in the model list: listed after the files, found by name, never picked by
default, refused clearly by work that needs a GGUF file, and marked in run records when
their data left this machine."""

import json
import sys
import types
from dataclasses import replace

import pytest

from core.app import context, endpoints, ladder, likelihood, quantization, runs, scoring
from core.app import finetune as finetune_app
from core.app.formatting import data_left_text, model_label
from core.engine import loader
from core.engine.embedding import open_embedder
from core.engine.endpoint_config import endpoint_model_info, save_endpoints
from core.engine.fake import FAKE_INFO, FakeBackend
from core.engine.registry import default_model, require_local_file, resolve
from core.errors import InvalidRequest, ModelNotFound
from core.evaluation.benchmark import create_run
from core.evaluation.judge import default_judge
from core.evaluation.loadtest import create_loadtest, plan_config
from core.types import (
    EndpointConfig,
    LikelihoodSpec,
    ModelRef,
    RefineConfig,
    RunKind,
    SamplerSettings,
)
from core.types.curves import CurveMethod, CurveSpec
from core.types.finetune import FinetuneSpec
from tests.support import GEMMA, SMOLLM2, bench_spec

NEAR = EndpointConfig("near", "http://127.0.0.1:9/v1", "served-smollm2")
FAR = EndpointConfig("far", "http://192.0.2.10:8000/v1", "big", replicas=("http://[::1]:1/v1",))


def _declare(*configs, text: str = "") -> None:
    path = context.settings().endpoints_path
    save_endpoints(path, configs)
    if text:
        path.write_text(path.read_text() + text)


@pytest.fixture
def declared(fake_mode):
    _declare(NEAR, FAR)


def test_endpoints_file_sits_beside_the_database_unless_set(tmp_path, monkeypatch):
    cfg = context.settings()
    assert cfg.endpoints_path == tmp_path / "db" / "endpoints.toml"
    monkeypatch.setenv("PERFICS_ENDPOINTS_FILE", str(tmp_path / "elsewhere.toml"))
    assert context.settings().endpoints_path == tmp_path / "elsewhere.toml"


def test_endpoint_models_come_after_the_files_in_fake_mode_too(declared):
    names = [m.name for m in context.list_models()]
    assert names[0] == FAKE_INFO.name
    assert names[-2:] == ["near", "far"]
    assert {SMOLLM2, GEMMA} <= set(names[1:-2])
    far = context.list_models()[-1]
    assert far.usable and far.endpoint == FAR and far.leaves_machine


def test_bad_entries_and_name_clashes_are_listed_as_unusable_with_the_reason(fake_mode):
    clash = EndpointConfig(SMOLLM2.lower(), "http://127.0.0.1:7/v1", "m")
    _declare(NEAR, clash, text='\n[[endpoint]]\nname = "half"\nbase_url = "http://x/v1"\n')
    listed = {m.name: m for m in context.list_models()}
    assert listed["near"].usable
    assert not listed[SMOLLM2.lower()].usable
    assert "also named" in listed[SMOLLM2.lower()].reason
    assert listed[SMOLLM2].usable  # the file itself keeps its name
    assert not listed["half"].usable
    assert listed["half"].reason == "endpoints.toml: Endpoint is missing model"


def test_a_file_that_is_not_toml_is_one_unusable_entry(fake_mode):
    path = context.settings().endpoints_path
    path.parent.mkdir(parents=True)
    path.write_text("[[endpoint]\n")
    bad = context.list_models()[-1]
    assert bad.name == "endpoints.toml" and not bad.usable
    assert "not valid TOML" in bad.reason


def test_resolve_finds_an_endpoint_by_its_exact_name_only(declared):
    models = context.list_models()
    assert resolve("far", models).endpoint == FAR
    assert resolve("near", models).endpoint == NEAR
    for typed in ("ne", "nea", "NEAR", "Far"):  # a prefix, or another case, never sends prompts
        with pytest.raises(ModelNotFound) as caught:
            resolve(typed, models)
        assert {"near", "far"} <= set(caught.value.available)
    assert resolve("fa", models) == FAKE_INFO  # the model file fake-echo, never "far"
    models = [*models, replace(endpoint_model_info(NEAR), name="nearly")]
    assert resolve("near", models).name == "near"
    assert resolve("nearly", models).name == "nearly"


def test_a_prefix_shared_with_an_endpoint_finds_the_model_file(declared):
    local = next(m for m in context.list_models() if m.name == SMOLLM2)
    lookalike = replace(endpoint_model_info(NEAR), name=SMOLLM2 + "-served")
    models = [local, lookalike]
    assert resolve(SMOLLM2[:7], models) == local  # not ambiguous: the endpoint is not a match
    assert resolve(SMOLLM2 + "-served", models) == lookalike
    with pytest.raises(ModelNotFound):
        resolve(SMOLLM2 + "-se", models)


def test_defaults_never_pick_an_endpoint(declared):
    only_endpoints = [endpoint_model_info(FAR), endpoint_model_info(NEAR)]
    assert default_model(only_endpoints) is None
    assert default_judge(only_endpoints) is None
    models = context.list_models()
    assert default_model(models).name == SMOLLM2
    assert not default_judge(models).is_endpoint
    assert all(not m.is_endpoint for m in runs.quick_start_spec(models).models)


def test_open_backend_gives_the_endpoint_backend_even_in_fake_mode(declared, monkeypatch):
    made = []

    class Recorder:
        def __init__(self, info):
            made.append(info)

    monkeypatch.setitem(
        sys.modules, "core.engine.endpoint", types.SimpleNamespace(EndpointBackend=Recorder)
    )
    backend = context.load_backend("far")
    assert isinstance(backend, Recorder) and made == [endpoint_model_info(FAR)]
    assert isinstance(context.load_backend(SMOLLM2), FakeBackend)


def test_model_rows_say_where_the_data_goes(declared):
    from core.engine.registry import as_row

    far, near = (as_row(endpoint_model_info(c)) for c in (FAR, NEAR))
    assert far["leaves_machine"] and not near["leaves_machine"]
    assert far["endpoint"]["replicas"] == ["http://[::1]:1/v1"]


# Work that needs the model's own file, each refused before anything is loaded or sent.
REFUSALS = {
    "quantize": lambda: quantization.quantize_model("far", ("Q8_0",)),
    "kld": lambda: quantization.kl_divergence(SMOLLM2, "near", "some text"),
    "ladder": lambda: ladder.plan("near", "Q8_0", "a text " * 100),
    "score": lambda: scoring.score_text("far", "context", " continuation"),
    "score --chat": lambda: scoring.score_chat_reply("near", "hello", "hi"),
    "perplexity": lambda: scoring.corpus_perplexity("near", "text " * 100),
    "likelihood": lambda: likelihood.plan(
        LikelihoodSpec("builtin", (endpoint_model_info(NEAR),), limit=2)
    ),
    "embeddings": lambda: open_embedder(endpoint_model_info(NEAR), context.settings()),
    "probe curve": lambda: learn_curve_plan(CurveMethod.PROBE),
    "lora curve": lambda: learn_curve_plan(CurveMethod.LORA),
    "finetune": lambda: finetune_app.plan(FinetuneSpec("ad", "d", "c", endpoint_model_info(NEAR))),
}


def learn_curve_plan(method):
    from core.evaluation.curve import plan_curve

    spec = CurveSpec("d", "c", (endpoint_model_info(NEAR),), methods=(method,))
    return plan_curve(context.store(), spec, threads=2)


@pytest.mark.parametrize("action", sorted(REFUSALS))
def test_local_only_work_refuses_an_endpoint_model_clearly(declared, action):
    with pytest.raises(InvalidRequest, match=r"is served by endpoint (near|far); .* needs a GGUF"):
        REFUSALS[action]()


def test_a_kshot_curve_may_use_an_endpoint(declared):
    with pytest.raises(InvalidRequest, match="No dataset named"):  # past the model checks
        learn_curve_plan(CurveMethod.KSHOT)


def test_scoring_an_answer_from_an_endpoint_backend_is_refused():
    backend = FakeBackend(info=endpoint_model_info(NEAR))
    with pytest.raises(InvalidRequest, match="scoring tokens needs a GGUF file"):
        scoring.score_answer(backend, [{"role": "user", "content": "q"}], "an answer")


def test_selectors_of_files_leave_endpoints_out(declared):
    models = context.list_models()
    assert not any(m.is_endpoint for m in quantization.quantizable(models))
    assert not any(m.is_endpoint for m in finetune_app.trainable(models))
    require_local_file(models[1], "anything")  # a file passes


def test_model_label_marks_only_models_whose_data_leaves():
    assert model_label("far", True) == "far (data leaves this machine)"
    assert model_label("near", False) == "near"
    assert data_left_text(None) is None and data_left_text(float("nan")) is None
    assert data_left_text(["a", "b"]) == "data left this machine (endpoint a, b)"


def test_runs_record_that_data_left_this_machine(declared, store, capsys):
    from core.app.cli import main

    far, near = endpoint_model_info(FAR), endpoint_model_info(NEAR)
    mixed = create_run(store, bench_spec(models=(FAKE_INFO, near), judge=far), "fake")
    local = create_run(store, bench_spec(models=(FAKE_INFO, near), judge=FAKE_INFO), "fake")
    table = runs.overview().set_index("id")
    assert table.data_left_via[mixed] == "far"
    assert data_left_text(table.data_left_via[local]) is None  # null in the table
    assert endpoints.run_data_left(mixed) == "data left this machine (endpoint far)"
    assert endpoints.run_data_left(local) is None
    assert main(["results", "--run", mixed]) == 0
    assert "data left this machine (endpoint far)" in capsys.readouterr().out
    assert main(["results", "--run", local]) == 0
    assert "data left" not in capsys.readouterr().out
    assert main(["run", "--list", "--json"]) == 0
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[mixed]["data_left_via"] == "far"
    assert data_left_text(listed[local]["data_left_via"]) is None


def test_a_load_test_records_whether_its_endpoint_is_on_another_machine(declared, store):
    far = create_loadtest(store, plan_config(endpoint_model_info(FAR), (1,), requests=2))
    near = create_loadtest(store, plan_config(endpoint_model_info(NEAR), (1,), requests=2))
    local = create_loadtest(store, plan_config(FAKE_INFO, (1,), requests=2))
    table = runs.overview(kinds=(RunKind.LOADTEST,)).set_index("id")
    assert table.data_left_via[far] == "far" and table.models[far] == "far"
    assert data_left_text(table.data_left_via[near]) is None
    assert data_left_text(table.data_left_via[local]) is None
    assert endpoints.run_data_left(far) == "data left this machine (endpoint far)"
    assert endpoints.run_data_left(near) is None and endpoints.run_data_left(local) is None
    (stored,) = json.loads(store.db.rows("SELECT config FROM runs WHERE id = ?", [far])[0][0])[
        "models"
    ]
    assert stored == {
        "name": "far",
        "sha256": endpoint_model_info(FAR).sha256,
        "endpoint": "far",
        "leaves_machine": True,
    }


def test_a_refinement_keeps_where_its_model_was_served():
    ref = ModelRef.of(endpoint_model_info(FAR))
    config = RefineConfig("p", 1, ref, SamplerSettings(), {}, "v")
    back = RefineConfig.from_json(config.to_json())
    assert back.model == ref and back.model.leaves_machine and back.model.endpoint == "far"
    assert endpoints.data_left(back) == "data left this machine (endpoint far)"
    old = {k: v for k, v in config.to_json().items() if not k.startswith("model_e")}
    old.pop("model_leaves_machine")
    assert not RefineConfig.from_json(old).model.leaves_machine  # stored before the keys


def test_loader_lists_problems_after_the_endpoints(tmp_path):
    path = tmp_path / "e.toml"
    save_endpoints(path, [NEAR])
    path.write_text(path.read_text() + '\n[[endpoint]]\nname = "x"\n')
    listed = loader.endpoint_models(path, [])
    assert [(m.name, m.usable) for m in listed] == [("near", True), ("x", False)]


def test_an_endpoint_is_never_an_adapter_base(tmp_path, monkeypatch, fake_mode):
    from tests.lora_support import manifest_for, write_adapter

    models_dir = tmp_path / "models"
    lab = endpoint_model_info(NEAR)
    manifest = manifest_for("tuned", lab.name, lab.sha256)  # names the endpoint as its base
    write_adapter(models_dir, "tuned", manifest=manifest, rank=2)
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(models_dir))
    _declare(NEAR)
    listed = context.list_models()
    assert [m.name for m in listed if m.usable] == [FAKE_INFO.name, "near"]
    (adapter,) = [m for m in listed if m.is_adapter]
    assert not adapter.usable and adapter.reason
