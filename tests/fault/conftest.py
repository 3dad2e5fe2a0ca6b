"""Fault-injection tests report their counts (kills, units, lost, duplicated) in pytest's
summary as well as in the test's properties (JUnit XML), whether or not output is captured."""

import pytest

_LINES = pytest.StashKey[list]()


@pytest.fixture
def fault_report(request, record_property):
    """`fault_report(line)`: one summary line, shown at the end of the session."""

    def report(line: str) -> None:
        record_property("fault_summary", line)
        request.config.stash.setdefault(_LINES, []).append(line)

    return report


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """One registry cache for the whole session, so each model file is hashed once."""
    return tmp_path_factory.mktemp("model-cache")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(_LINES, [])
    if lines:
        terminalreporter.section("fault injection")
        for line in lines:
            terminalreporter.write_line(line)
