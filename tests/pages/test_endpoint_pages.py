"""Endpoints in the dashboard: declared on the Models page (the file is written), the
"data leaves this machine" warning for a remote one only, selectors marking
such models, and Check against a dead port showing a plain error."""

import socket
from pathlib import Path

import pytest

from core.app import context
from core.engine.endpoint_config import load_endpoints, save_endpoints
from core.types import EndpointConfig
from pages.components.text import escape
from tests.support import SMOLLM2

NEW = "(new endpoint)"
LEAVES = "Data leaves this machine"


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """Local models on the fake backend; endpoints are never faked."""


def _declare(*configs: EndpointConfig) -> None:
    save_endpoints(context.settings().endpoints_path, configs)


def _warnings(at) -> list[str]:
    return [w.value for w in at.warning]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_adding_an_endpoint_on_the_models_page_writes_the_file(open_page):
    at = open_page()
    at.text_input(key=f"models_ep_name_{NEW}").set_value("lab")
    at.text_input(key=f"models_ep_model_{NEW}").set_value("Qwen/Qwen2.5-7B-Instruct")
    at.text_area(key=f"models_ep_urls_{NEW}").set_value(
        "http://192.0.2.1:8000/v1/\n\nhttp://192.0.2.2:8000/v1\n"
    )
    at.text_input(key=f"models_ep_key_{NEW}").set_value("LAB_KEY")
    at.number_input(key=f"models_ep_conc_{NEW}").set_value(4)
    at.button(key=f"FormSubmitter:models_ep_form_{NEW}-Save endpoint").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (config,) = load_endpoints(context.settings().endpoints_path).configs
    assert config == EndpointConfig(
        "lab",
        "http://192.0.2.1:8000/v1",
        "Qwen/Qwen2.5-7B-Instruct",
        "LAB_KEY",
        4,
        120.0,
        ("http://192.0.2.2:8000/v1",),
    )
    assert any("Saved endpoint lab" in s.value for s in at.success)
    names = list(at.dataframe[0].value["name"])  # the model list read the file again
    assert "lab (data leaves this machine)" in names and SMOLLM2 in names
    endpoints_table = at.dataframe[1].value
    assert list(endpoints_table["key"]) == ["NOT SET"]  # LAB_KEY is not set in the test
    assert list(endpoints_table["where"]) == ["data leaves this machine"]


def test_a_bad_form_shows_the_reason_and_writes_nothing(open_page):
    at = open_page()
    at.text_input(key=f"models_ep_name_{NEW}").set_value(SMOLLM2)
    at.text_input(key=f"models_ep_model_{NEW}").set_value("m")
    at.text_area(key=f"models_ep_urls_{NEW}").set_value("http://127.0.0.1:1/v1")
    at.button(key=f"FormSubmitter:models_ep_form_{NEW}-Save endpoint").click()
    at.run()
    assert not at.exception
    assert "name of the model file" in at.error[0].value
    assert not context.settings().endpoints_path.exists()


def _fill_form(at, key_env: str = "") -> None:
    at.text_input(key=f"models_ep_name_{NEW}").set_value("lab")
    at.text_input(key=f"models_ep_model_{NEW}").set_value("m")
    at.text_area(key=f"models_ep_urls_{NEW}").set_value("http://127.0.0.1:1/v1")
    at.text_input(key=f"models_ep_key_{NEW}").set_value(key_env)
    at.button(key=f"FormSubmitter:models_ep_form_{NEW}-Save endpoint").click()
    at.run()


def test_a_key_pasted_as_its_variable_name_is_refused_and_not_shown(open_page):
    pasted = "gsk_abc123DEF456ghi789JKL012mno345"
    at = open_page()
    _fill_form(at, pasted)
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "NAME of an environment variable" in error and pasted not in error
    assert not context.settings().endpoints_path.exists()


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs sysfs, where no one creates files")
def test_a_data_folder_that_cannot_be_written_is_a_plain_error(open_page, monkeypatch):
    # /sys: the file reads as absent, and no file can be made there, not even by root.
    path = Path("/sys/perfics-endpoints.toml")
    monkeypatch.setenv("PERFICS_ENDPOINTS_FILE", str(path))
    at = open_page()
    _fill_form(at)
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith("Cannot save the endpoints to ") and "perfics\\-endpoints" in error
    assert "Permission denied" in error or "Read\\-only file system" in error
    assert not path.exists()


def test_the_entry_point_warns_for_a_remote_endpoint_only(open_page):
    """app.py draws the warning before running the page, so every page has it; AppTest's
    switch_page runs a page file without app.py, so other pages are walked in the browser
    (tests/browser/test_endpoint_warning_browser.py)."""
    _declare(EndpointConfig("local-server", "http://127.0.0.1:8080/v1", "m"))
    at = open_page()
    assert not any(LEAVES in w for w in _warnings(at))
    _declare(
        EndpointConfig("local-server", "http://127.0.0.1:8080/v1", "m"),
        EndpointConfig("lab_gpu", "http://gpu.lab.example:8000/v1", "big"),
    )
    at = open_page()
    shown = [w for w in _warnings(at) if LEAVES in w]
    assert len(shown) == 1
    assert "lab\\_gpu" in shown[0] and "local-server" not in shown[0]  # escaped Markdown


def test_selectors_mark_a_remote_model(open_page):
    _declare(EndpointConfig("far", "http://192.0.2.9/v1", "big"))
    at = open_page("pages/refine.py")
    model = at.selectbox(key="refine_model")
    assert model.value == SMOLLM2  # never picked by default
    assert "far (data leaves this machine)" in model.options
    at = open_page("pages/benchmarks.py")
    assert "far (data leaves this machine)" in at.multiselect(key="bench_models").options
    assert "far" not in at.multiselect(key="bench_models").value


def test_check_against_a_dead_port_shows_a_plain_error(open_page):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    _declare(EndpointConfig("dead", url, "m"))
    at = open_page()
    at.selectbox(key="models_ep_pick").set_value("dead").run()
    at.button(key="models_ep_check").click().run()
    assert not at.exception
    (error,) = at.error
    assert "Endpoint dead" in error.value and "Traceback" not in error.value
    assert "127" in error.value


def test_check_against_a_live_server_says_what_answers(open_page, openai_stub):
    _declare(EndpointConfig("live", openai_stub.url, "m"))
    at = open_page()
    at.selectbox(key="models_ep_pick").set_value("live").run()
    at.button(key="models_ep_check").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith(escape("live answers: up: openai-stub"))


def test_removing_an_endpoint_and_a_page_without_model_files(open_page, tmp_path, monkeypatch):
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(empty))
    monkeypatch.delenv("PERFICS_BACKEND")
    _declare(EndpointConfig("near", "http://127.0.0.1:9/v1", "m"))
    at = open_page()
    assert not at.exception
    assert list(at.dataframe[0].value["name"]) == ["near"]
    at.selectbox(key="models_ep_pick").set_value("near").run()
    at.button(key="models_ep_remove").click().run()
    assert not at.exception
    assert load_endpoints(context.settings().endpoints_path).configs == ()
    assert any("No .gguf files found" in w for w in _warnings(at))


def test_try_it_with_an_endpoint_model(open_page, openai_stub):
    _declare(EndpointConfig("served", openai_stub.url, "m"))
    at = open_page()
    at.selectbox(key="models_model").set_value("served")
    at.text_area(key="models_prompt").set_value("Name three colours")
    at.button(key="FormSubmitter:models_try-Generate").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("colours" in md.value for md in at.markdown)  # the stub echoes the prompt
    assert any("served by endpoint served" in c.value for c in at.caption)
    assert not at.toggle  # no token view: the server gives no token probabilities


def test_run_pickers_and_results_say_data_left_this_machine(open_page, store):
    from core.engine.endpoint_config import endpoint_model_info
    from core.engine.fake import FAKE_INFO
    from core.evaluation.benchmark import create_run
    from tests.support import bench_spec

    far = endpoint_model_info(EndpointConfig("far", "http://192.0.2.9/v1", "big"))
    create_run(store, bench_spec(models=(FAKE_INFO, far), judge=FAKE_INFO), "fake")
    at = open_page("pages/results.py")
    assert not at.exception
    note = escape("data left this machine (endpoint far)")
    assert any(note in w.value for w in at.warning)
    assert "data left this machine (endpoint far)" in at.selectbox(key="results_run").options[0]
    at = open_page("pages/benchmarks.py")
    assert any(note in md.value for md in at.markdown)  # the run's summary line
