"""A run never resumes against an endpoint that now sends its prompts to another machine
while the run's record says they stayed on this one."""

from types import SimpleNamespace

import pytest

from core.engine.endpoint_config import endpoint_model_info
from core.errors import InvalidRequest
from core.evaluation.benchmark import check_models
from core.types import EndpointConfig, ModelRef


def _served(url: str):
    return endpoint_model_info(EndpointConfig(name="team-server", base_url=url, model="m"))


def test_an_endpoint_moved_off_this_machine_is_refused_on_resume():
    started_with = ModelRef.of(_served("http://127.0.0.1:8080/v1"))
    assert started_with.leaves_machine is False
    moved = _served("http://10.1.2.3:8080/v1")
    assert moved.sha256 == started_with.sha256  # the identity alone cannot tell

    with pytest.raises(InvalidRequest, match="another machine.*10.1.2.3"):
        check_models([started_with], lambda name: SimpleNamespace(info=moved))
    # Declared as it was, the run resumes.
    check_models(
        [started_with], lambda name: SimpleNamespace(info=_served("http://localhost:9/v1"))
    )


def test_a_run_that_started_remote_resumes_remote():
    remote = _served("http://10.1.2.3:8080/v1")
    check_models([ModelRef.of(remote)], lambda name: SimpleNamespace(info=remote))
