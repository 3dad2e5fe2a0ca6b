"""An endpoint that is not set up to serve (its key's variable unset, HTTP 401, 404 for an
unknown model) stops a run resumable with no item failed, whether it answers, codes or
judges; once fixed, the resumed run finishes every unit once. A refusal of one request
(HTTP 400) fails that item, text or judgment only, and the run goes on. All over real HTTP to
the stub server (tests/openai_stub.py)."""

import pytest

from core.app import context
from core.engine.endpoint import EndpointBackend
from core.engine.endpoint_config import endpoint_model_info, save_endpoints
from core.engine.fake import FakeBackend
from core.errors import EndpointRefusedRequest, EndpointRejected
from core.evaluation.benchmark import create_run, run_benchmark
from core.evaluation.coding_run import create_coding_run, run_coding
from core.evaluation.loadtest import create_loadtest, plan_config, run_loadtest
from core.store import Store
from core.types import EndpointConfig
from core.types.classification import Codebook, CodebookLabel, CodingSpec, TextRecord
from tests.support import assert_no_duplicates, bench_spec, fake_model

KEY_VAR = "PERFICS_TEST_SETUP_KEY"
BOOK = Codebook("topics", (CodebookLabel("H", "Health"), CodebookLabel("M", "Money")))


def served(stub, name="served", api_key_env=None):
    config = EndpointConfig(name, stub.url, "stub-model", api_key_env=api_key_env)
    info = endpoint_model_info(config)
    return info, EndpointBackend(info, retries=1, sleep=lambda _s: None)


def statuses(store, run_id):
    rows = store.db.rows("SELECT status FROM run_items WHERE run_id = ?", [run_id])
    return sorted(status for (status,) in rows)


def stopped_resumably(store, run_id, reason: str) -> None:
    record = store.runs.get(run_id)
    assert record.status == "failed" and reason in record.error
    assert "failed" not in statuses(store, run_id)
    assert len(store.items.pending(run_id)) == record.total_units


@pytest.mark.parametrize("fault", ["401", "404"])
def test_an_endpoint_refusing_us_stops_the_run_resumably(openai_stub, tmp_path, fault):
    info, backend = served(openai_stub)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, bench_spec(models=(info,), judge=None, limit=3), "endpoint")
    openai_stub.fail(fault)
    with pytest.raises(EndpointRejected, match=f"HTTP {fault}") as caught:
        run_benchmark(store, run_id, lambda name: backend)
    assert not isinstance(caught.value, EndpointRefusedRequest)
    stopped_resumably(store, run_id, f"HTTP {fault}")
    store.runs.requeue(run_id)  # the user fixed the key or the model id
    assert run_benchmark(store, run_id, lambda name: backend) == "completed"
    assert statuses(store, run_id) == ["done"] * 3
    assert_no_duplicates(store, run_id)


def test_a_missing_key_variable_stops_the_run_until_it_is_set(openai_stub, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_VAR, raising=False)
    info, backend = served(openai_stub, api_key_env=KEY_VAR)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, bench_spec(models=(info,), judge=None, limit=3), "endpoint")
    with pytest.raises(EndpointRejected, match=f"{KEY_VAR} is not set"):
        run_benchmark(store, run_id, lambda name: backend)
    stopped_resumably(store, run_id, f"{KEY_VAR} is not set")
    assert openai_stub.requests == []
    monkeypatch.setenv(KEY_VAR, "sk-set-now")
    store.runs.requeue(run_id)
    assert run_benchmark(store, run_id, lambda name: backend) == "completed"
    assert statuses(store, run_id) == ["done"] * 3
    assert_no_duplicates(store, run_id)
    generated = openai_stub.generation_requests()
    assert {r.headers["authorization"] for r in generated} == {"Bearer sk-set-now"}


def _judged_run(stub, tmp_path):
    local = fake_model("local-a", "a")
    judge_info, judge = served(stub, name="judge")
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, bench_spec(models=(local,), judge=judge_info, limit=2), "fake")
    backends = {"local-a": FakeBackend(info=local), "judge": judge}
    return store, run_id, backends.__getitem__


def _judgments(store, run_id):
    return store.db.rows(
        "SELECT status, error FROM judgments WHERE run_id = ? ORDER BY item_no, id", [run_id]
    )


def test_a_judge_refusing_us_leaves_its_units_pending_not_failed(openai_stub, tmp_path):
    store, run_id, load = _judged_run(openai_stub, tmp_path)
    openai_stub.fail("401")
    with pytest.raises(EndpointRejected, match="HTTP 401"):
        run_benchmark(store, run_id, load)
    stopped_resumably(store, run_id, "HTTP 401")
    assert _judgments(store, run_id) == []
    store.runs.requeue(run_id)
    assert run_benchmark(store, run_id, load) == "completed"
    assert statuses(store, run_id) == ["done"] * 2
    judged = _judgments(store, run_id)
    assert judged and {status for status, _ in judged} == {"ok"}
    assert_no_duplicates(store, run_id)


def test_a_prompt_the_judge_refuses_is_one_failed_judgment(openai_stub, tmp_path):
    store, run_id, load = _judged_run(openai_stub, tmp_path)
    openai_stub.fail("400")
    assert run_benchmark(store, run_id, load) == "completed"
    assert statuses(store, run_id) == ["done"] * 2
    judged = _judgments(store, run_id)
    failed = [error for status, error in judged if status == "failed"]
    assert len(failed) == 1 and "EndpointRefusedRequest" in failed[0] and "HTTP 400" in failed[0]
    assert len(judged) - 1 == sum(status == "ok" for status, _ in judged)


def _coding_run(stub, tmp_path, texts=3):
    store = Store(tmp_path / "run.duckdb")
    store.init()
    records = [TextRecord(f"t{i}", f"A bill on topic number {i}") for i in range(texts)]
    store.datasets.save("bills", "test", records)
    store.codebooks.save(BOOK, "test")
    info, backend = served(stub, name="coder")
    run_id = create_coding_run(store, CodingSpec("bills", "topics", (info,)), "endpoint")
    return store, run_id, lambda name: backend


def _coding_rows(store, run_id):
    return store.db.rows(
        "SELECT i.status, i.error, count(c.item_no) FROM run_items i "
        "LEFT JOIN cls_codings c USING (run_id, item_no) WHERE i.run_id = ? GROUP BY ALL "
        "ORDER BY i.status",
        [run_id],
    )


def test_a_text_the_coder_refuses_fails_that_text_only(openai_stub, tmp_path):
    store, run_id, load = _coding_run(openai_stub, tmp_path)
    openai_stub.fail("400")
    assert run_coding(store, run_id, load) == "completed"
    rows = _coding_rows(store, run_id)
    assert [(status, n) for status, _, n in rows] == [("done", 2), ("failed", 0)]
    assert "HTTP 400: stub fault 400" in rows[1][1]


def test_a_coder_refusing_us_stops_the_coding_run_after_a_refused_text(openai_stub, tmp_path):
    store, run_id, load = _coding_run(openai_stub, tmp_path)
    openai_stub.fail("400", "404")  # one text refused, then the model unknown
    with pytest.raises(EndpointRejected, match="HTTP 404"):
        run_coding(store, run_id, load)
    record = store.runs.get(run_id)
    assert record.status == "failed" and "HTTP 404" in record.error
    assert statuses(store, run_id) == ["failed", "pending", "pending"]
    store.runs.requeue(run_id)
    assert run_coding(store, run_id, load) == "completed"
    rows = _coding_rows(store, run_id)
    assert [(status, n) for status, _, n in rows] == [("done", 2), ("failed", 0)]
    assert len(openai_stub.generation_requests()) == 2 + 2  # the refused text is not retried


def test_a_load_test_counts_a_refused_request_but_stops_at_a_refused_key(openai_stub, store):
    info, backend = served(openai_stub)
    run_id = create_loadtest(store, plan_config(info, (1,), requests=4, max_tokens=4))
    # The warm-up goes through ("stall:0" waits no time), then a 400 and a 401.
    openai_stub.fail("stall:0", "400", "401")
    with pytest.raises(EndpointRejected, match="HTTP 401"):
        run_loadtest(store, run_id, lambda name: backend)
    stopped_resumably(store, run_id, "HTTP 401")
    assert store.loadtests.levels(run_id) == []
    store.runs.requeue(run_id)
    openai_stub.fail("stall:0", "400")
    assert run_loadtest(store, run_id, lambda name: backend) == "completed"
    (level,) = store.loadtests.levels(run_id)
    assert (level.succeeded, level.failed) == (3, 1)


def test_the_cli_says_to_resume_once_the_endpoint_is_set_up(
    openai_stub, fake_mode, monkeypatch, capsys, store
):
    from core.app.cli import main

    monkeypatch.delenv(KEY_VAR, raising=False)
    keyed = EndpointConfig("keyed", openai_stub.url, "stub-model", api_key_env=KEY_VAR)
    save_endpoints(context.settings().endpoints_path, [keyed])
    argv = ["run", "--suite", "builtin", "--models", "keyed", "--limit", "2"]
    assert main([*argv, "--rounds", "1", "--max-tokens", "8", "--quiet"]) == 1
    err = capsys.readouterr().err
    ((run_id,),) = store.db.rows("SELECT id FROM runs")
    assert f"{KEY_VAR} is not set. Run {run_id} kept its finished units" in err
    assert f"`perfics run --resume {run_id}` once the endpoint is set up" in err
    assert "Traceback" not in err
    monkeypatch.setenv(KEY_VAR, "sk-set-now")
    assert main(["run", "--resume", run_id, "--quiet"]) == 0
    assert statuses(store, run_id) == ["done"] * 2
