"""endpoints.toml: parsing, a reason for each bad entry, a bad file that never raises, our
own TOML writer round-tripping awkward values, and the edits' refusals."""

import hashlib
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine import endpoint_config as ec
from core.errors import InvalidRequest
from core.types import EndpointConfig

GOOD = """
[[endpoint]]
name = "local"
base_url = "http://127.0.0.1:8080/v1/"
model = "smollm2"

[[endpoint]]
name = "lab"
base_url = "http://10.1.2.3:8000/v1"
model = "Qwen/Qwen2.5-7B-Instruct"
api_key_env = "LAB_KEY"
max_concurrency = 8
timeout_s = 30
replicas = ["http://10.1.2.4:8000/v1"]
"""


def test_parses_endpoints_with_defaults_and_normalised_urls():
    found = ec.parse_endpoints(GOOD)
    assert found.problems == ()
    local, lab = found.configs
    assert local == EndpointConfig("local", "http://127.0.0.1:8080/v1", "smollm2")
    assert (local.max_concurrency, local.timeout_s, local.api_key_env) == (1, 120.0, None)
    assert lab.urls == ("http://10.1.2.3:8000/v1", "http://10.1.2.4:8000/v1")
    assert (lab.capacity, lab.timeout_s, lab.api_key_env) == (16, 30.0, "LAB_KEY")
    assert not local.leaves_machine and lab.leaves_machine
    assert found.leaving_machine == (lab,)


def test_each_bad_entry_is_a_problem_with_its_reason_and_the_good_ones_still_load():
    text = """
[[endpoint]]
name = "ok"
base_url = "http://127.0.0.1:1/v1"
model = "m"

[[endpoint]]
name = "no-model"
base_url = "http://127.0.0.1:2/v1"

[[endpoint]]
name = "bad concurrency"
base_url = "http://127.0.0.1:3/v1"
model = "m"

[[endpoint]]
name = "words"
base_url = "http://127.0.0.1:4/v1"
model = "m"
max_concurrency = "two"

[[endpoint]]
name = "ftp"
base_url = "ftp://example.org/v1"
model = "m"

[[endpoint]]
name = "secret"
base_url = "http://127.0.0.1:5/v1"
model = "m"
api_key = "sk-very-secret-value"

[[endpoint]]
name = "ok"
base_url = "http://127.0.0.1:6/v1"
model = "again"
"""
    found = ec.parse_endpoints(text)
    assert [c.name for c in found.configs] == ["ok"]
    assert found.configs[0].base_url == "http://127.0.0.1:1/v1"  # the first "ok" is kept
    reasons = {p.entry: p for p in found.problems}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    assert "missing model" in reasons[2].reason and reasons[2].name == "no-model"
    assert "letters, digits" in reasons[3].reason
    assert "max_concurrency must be a whole number" in reasons[4].reason
    assert "http:// or https://" in reasons[5].reason
    assert "api_key_env" in reasons[6].reason
    assert "sk-very-secret-value" not in repr(found)  # a pasted key is never repeated
    assert "used by an earlier entry" in reasons[7].reason and reasons[7].name is None
    assert reasons[7].label == "endpoint #7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[endpoint]\nname = 'x'", "not valid TOML"),
        ("[endpoint]\nname = 'x'", "[[endpoint]]"),
        ("endpoints = []", "unknown top-level key(s) endpoints"),
        ("endpoint = [1, 2]", "not a table"),
    ],
)
def test_a_malformed_file_is_a_problem_not_an_exception(tmp_path, text, expected):
    path = tmp_path / "endpoints.toml"
    path.write_text(text)
    found = ec.load_endpoints(path)
    assert found.configs == ()
    assert expected in found.problems[0].reason


def test_missing_unreadable_and_non_utf8_files(tmp_path):
    assert ec.load_endpoints(tmp_path / "absent.toml") == ec.EndpointList()
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[[endpoint]]\nname = "caf\xe9"\n')
    assert "not UTF-8" in ec.load_endpoints(latin).problems[0].reason
    folder = tmp_path / "a-folder.toml"
    folder.mkdir()
    assert "cannot be read" in ec.load_endpoints(folder).problems[0].reason


AWKWARD = [
    'say "hi"',
    "back\\slash\\",
    "tab\there",
    "line\nbreak\r\n",
    "bell\x07 nul\x00 del\x7f esc\x1b",
    "unicode: déjà vu – 模型 🙂",
    "'single' and \"double\" and '''triple'''",
    "\\u0041 is not A",
    "# not a comment",
    "trailing space ",
]


@pytest.mark.parametrize("value", AWKWARD)
def test_toml_string_round_trips_awkward_text(value):
    assert tomllib.loads(f"v = {ec.toml_string(value)}")["v"] == value


def test_toml_string_refuses_a_lone_surrogate():
    with pytest.raises(InvalidRequest, match="surrogate"):
        ec.toml_string("bad \ud800")


def test_saved_file_round_trips_awkward_names_urls_and_model_ids(tmp_path):
    configs = [
        EndpointConfig(
            name=f"e{i}",
            base_url=f"https://host-{i}.example:8443/v1/{value}".rstrip("/"),
            model=value,
            api_key_env="KEY_VAR" if i % 2 else None,
            max_concurrency=1 + i,
            timeout_s=0.5 + i,
            replicas=(f"http://[::1]:{9000 + i}/v1",),
        )
        for i, value in enumerate(AWKWARD)
    ]
    path = tmp_path / "endpoints.toml"
    ec.save_endpoints(path, configs)
    assert ec.load_endpoints(path) == ec.EndpointList(tuple(configs))


urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}:{port}/v1{path}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(["127.0.0.1", "localhost", "example.org", "10.0.0.7", "[::1]"]),
    st.integers(1, 65535),
    st.text(max_size=20).map(lambda t: "/" + t if t else "").filter(lambda p: not p.endswith("/")),
)
configs = st.builds(
    EndpointConfig,
    name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    base_url=urls,
    model=st.text(min_size=1, max_size=40).filter(str.strip),
    api_key_env=st.none() | st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True),
    max_concurrency=st.integers(1, 64),
    timeout_s=st.floats(1e-6, 3600, allow_nan=False),
    replicas=st.lists(urls, max_size=2).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(configs, max_size=4, unique_by=lambda c: c.name).filter(
        lambda cs: all(len(set(c.urls)) == len(c.urls) for c in cs)
    )
)
def test_any_valid_endpoints_survive_save_and_load(tmp_path_factory, drawn):
    path = tmp_path_factory.mktemp("rt") / "endpoints.toml"
    ec.save_endpoints(path, drawn)
    assert ec.load_endpoints(path).configs == tuple(drawn)


def test_the_file_names_the_key_variable_never_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_KEY", "sk-live-123456")
    path = tmp_path / "endpoints.toml"
    ec.save_endpoints(path, [EndpointConfig("lab", "http://10.0.0.1/v1", "m", "LAB_KEY")])
    text = path.read_text()
    assert 'api_key_env = "LAB_KEY"' in text
    assert "sk-live-123456" not in text
    assert text.startswith("# ") and "API keys are never stored here" in text


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "endpoints.toml"
    first = [EndpointConfig("one", "http://127.0.0.1:1/v1", "m")]
    ec.save_endpoints(path, first)
    before = path.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(ec.os, "replace", broken_replace)
    with pytest.raises(InvalidRequest, match=f"Cannot save the endpoints to {path}: disk full"):
        ec.save_endpoints(path, [*first, EndpointConfig("two", "http://127.0.0.1:2/v1", "m")])
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["endpoints.toml"]


def test_a_folder_that_cannot_be_written_is_a_clear_error(tmp_path):
    """Whoever runs the tests: a folder under a regular file cannot be made even by root, nor
    a file in /sys; a read-only folder is tried too when chmod binds this user (not root)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = EndpointConfig("one", "http://127.0.0.1:1/v1", "m")
    under_a_file = blocker / "data" / "endpoints.toml"
    with pytest.raises(InvalidRequest) as caught:
        ec.save_endpoints(under_a_file, [config])
    assert str(caught.value).startswith(f"Cannot save the endpoints to {under_a_file}: ")
    assert "Not a directory" in str(caught.value)
    if Path("/sys").is_dir():  # sysfs: no one creates files there, not even root
        in_sysfs = Path("/sys/perfics-endpoints.toml")
        with pytest.raises(InvalidRequest, match=f"{in_sysfs}: (Permission denied|Read-only)"):
            ec.save_endpoints(in_sysfs, [config])
    if os.geteuid() == 0:
        return  # root writes into read-only folders
    locked = tmp_path / "read-only"
    locked.mkdir()
    path = locked / "endpoints.toml"
    ec.save_endpoints(path, [config])
    locked.chmod(0o555)
    try:
        with pytest.raises(InvalidRequest, match=f"{path}: Permission denied"):
            ec.save_endpoints(path, [config, EndpointConfig("two", "http://127.0.0.1:2/v1", "m")])
        assert ec.load_endpoints(path).configs == (config,)
    finally:
        locked.chmod(0o755)


KEYS_PASTED_AS_NAMES = [
    "gsk_abc123DEF456ghi789JKL012mno345PQR678stu901",
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "sk_live_abcdefghijklmnop",
    "Bearer_abc",
    "A" * 65,  # upper case, but longer than any variable name we accept
]


@pytest.mark.parametrize("pasted", KEYS_PASTED_AS_NAMES)
def test_a_key_in_place_of_its_variable_name_is_refused_and_never_repeated(tmp_path, pasted):
    with pytest.raises(InvalidRequest, match="NAME of an environment variable") as caught:
        EndpointConfig("lab", "http://10.0.0.1/v1", "m", api_key_env=pasted)
    assert pasted not in str(caught.value)
    path = tmp_path / "endpoints.toml"
    path.write_text(
        f'[[endpoint]]\nname = "lab"\nbase_url = "http://10.0.0.1/v1"\nmodel = "m"\n'
        f'api_key_env = "{pasted}"\n'
    )
    found = ec.load_endpoints(path)
    assert found.configs == () and "NAME of an environment variable" in found.problems[0].reason
    assert pasted not in repr(found)


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "MY_SERVER_KEY2", "_KEY", "K", "A" * 64])
def test_ordinary_variable_names_are_accepted(name):
    assert EndpointConfig("lab", "http://10.0.0.1/v1", "m", api_key_env=name).api_key_env == name


def test_endpoint_model_info_is_a_usable_chat_model_without_a_file():
    config = EndpointConfig("lab", "http://10.0.0.1/v1", "Qwen/Qwen2.5-7B")
    info = ec.endpoint_model_info(config)
    assert info.name == "lab" and info.endpoint == config
    assert info.path == Path("endpoint:lab") and not info.path.exists()
    assert info.sha256 == hashlib.sha256(b"endpoint\0lab\0Qwen/Qwen2.5-7B").hexdigest()
    assert info.usable and info.has_chat_template and info.is_endpoint and info.leaves_machine
    other = ec.endpoint_model_info(EndpointConfig("lab", "http://10.0.0.1/v1", "other"))
    assert other.sha256 != info.sha256  # another served model is another model


def _local(name: str, port: int = 8080) -> EndpointConfig:
    return EndpointConfig(name, f"http://127.0.0.1:{port}/v1", "m")


def test_add_update_and_remove(tmp_path):
    path = tmp_path / "data" / "endpoints.toml"  # the folder is made on first save
    ec.add_endpoint(path, _local("a"))
    ec.add_endpoint(path, _local("b", 8081))
    ec.update_endpoint(path, "a", _local("a2", 9000))  # renamed, in the same place
    assert [c.name for c in ec.load_endpoints(path).configs] == ["a2", "b"]
    ec.update_endpoint(path, "b", _local("b", 9001))  # keeping its own name is no clash
    assert ec.load_endpoints(path).named("b").base_url == "http://127.0.0.1:9001/v1"
    ec.remove_endpoint(path, "a2")
    assert [c.name for c in ec.load_endpoints(path).configs] == ["b"]


def test_edits_refuse_duplicate_names_and_model_file_names(tmp_path):
    path = tmp_path / "endpoints.toml"
    ec.add_endpoint(path, _local("a"))
    ec.add_endpoint(path, _local("b", 8081))
    before = path.read_text()
    with pytest.raises(InvalidRequest, match="already an endpoint named a"):
        ec.add_endpoint(path, _local("a", 9999))
    with pytest.raises(InvalidRequest, match="already an endpoint named b"):
        ec.update_endpoint(path, "a", _local("b", 9999))
    with pytest.raises(InvalidRequest, match="model file SmolLM2.gguf"):
        ec.add_endpoint(path, _local("smollm2"), file_names={"SmolLM2", "other"})
    with pytest.raises(InvalidRequest, match="No endpoint named zz"):
        ec.remove_endpoint(path, "zz")
    with pytest.raises(InvalidRequest, match="No endpoint named zz"):
        ec.update_endpoint(path, "zz", _local("zz"))
    assert path.read_text() == before


def test_edits_are_refused_while_the_file_has_problems_so_nothing_is_dropped(tmp_path):
    path = tmp_path / "endpoints.toml"
    path.write_text(GOOD + '\n[[endpoint]]\nname = "broken"\n')
    before = path.read_text()
    with pytest.raises(InvalidRequest, match="broken: Endpoint is missing base_url, model"):
        ec.add_endpoint(path, _local("new"))
    with pytest.raises(InvalidRequest, match="Fix or remove them"):
        ec.remove_endpoint(path, "local")
    assert path.read_text() == before


def test_gguf_stems_lists_model_files_only(tmp_path):
    (tmp_path / "A.gguf").write_bytes(b"")
    (tmp_path / "b.GGUF").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "adapters").mkdir()
    assert ec.gguf_stems(tmp_path) == {"A", "b"}
    assert ec.gguf_stems(tmp_path / "missing") == set()
