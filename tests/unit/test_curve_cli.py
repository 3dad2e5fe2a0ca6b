"""`perfics learn curve | compare` in process on the fake backend: a curve run and shown as
JSON and as text, compared with costs and a PeRFICS ranking, resumed, and the bad inputs."""

import json

import pytest

from core.app import context, learn_curve
from core.engine.embedding import FakeEmbedder
from tests.unit.classify_cli_data import cli
from tests.unit.curve_support import example_learner, fill, spec

CURVE = (
    "learn", "curve", "--dataset", "fruit", "--codebook", "fruit", "--models", "fake",
    "--sizes", "0,8,all", "--repeats", "2", "--held-out", "12", "--k", "2", "--source", "gold",
)  # fmt: skip


@pytest.fixture(autouse=True)
def fruit(fake_mode, store, monkeypatch):
    fill(store)
    monkeypatch.setattr(context, "open_backend", lambda info, cfg=None: example_learner(info))
    monkeypatch.setattr(learn_curve, "open_embedder", lambda info, cfg: FakeEmbedder(info))
    return store


def _curve(capsys) -> str:
    code, out, err = cli(capsys, *CURVE, "--quiet", "--json")
    assert code == 0, err
    assert "12 held-out texts, pool 48, n = 0, 8, 48; 8 points" in err
    done = json.loads(out)
    assert done["status"] == "completed"
    return done["run_id"]


def test_a_curve_runs_and_shows_its_table_as_json(capsys):
    run_id = _curve(capsys)
    code, out, err = cli(capsys, "learn", "curve", "--show", run_id, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["status"], shown["done"], shown["total"]) == ("completed", 8, 8)
    assert (shown["held_out"], shown["pool"], shown["repeats"]) == (12, 48, 2)
    rows = {(r["method"], r["n_train"]): r for r in shown["rows"]}
    assert set(rows) == {(m, n) for m in ("kshot", "probe") for n in (0, 8, 48)}
    assert rows[("kshot", 0)]["accuracy"] == pytest.approx(4 / 12)  # the fake zero-shot
    assert rows[("kshot", 8)]["repeats"] == 2 and rows[("kshot", 8)]["interval"] == "t"
    assert rows[("probe", 48)]["accuracy"] == 1.0
    assert (
        rows[("probe", 0)]["repeats"] == 0 and "no training texts" in rows[("probe", 0)]["reason"]
    )
    assert {f["point"] for f in shown["failures"]} == {"probe n=0 #1"}  # skipped, with why


def test_the_table_as_text_names_the_interval_and_the_points(capsys):
    run_id = _curve(capsys)
    code, out, err = cli(capsys, "learn", "curve", "--show", run_id)
    assert code == 0, err
    assert f"curve {run_id} (completed, 8 of 8 points)" in out
    assert "12 held-out texts, pool 48, 2 repeat(s), k = 2" in out
    assert "fake-echo · kshot n=0 (repeats 1, texts 12): acc 0.333 [" in out
    assert "fake-echo · probe n=48 (repeats 1, texts 12): acc 1.000 [1.000, 1.000]" in out


def test_compare_prices_each_method_and_ranks_them(capsys):
    run_id = _curve(capsys)
    code, out, err = cli(capsys, "learn", "compare", run_id, "--n", "8", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [(r["method"], r["n_train"]) for r in report["rows"]] == [
        ("base", 0),
        ("kshot", 8),
        ("probe", 8),
    ]
    probe = report["rows"][2]
    assert probe["train_seconds"] > 0 and probe["train_cpu_hours"] == pytest.approx(
        probe["train_seconds"] * report["threads"] / 3600
    )
    assert report["rows"][0]["train_seconds"] == 0  # prompting trains nothing
    assert report["currency"] == "USD" and report["hardware"]
    ranking = report["ranking"]
    assert sorted(r["rank"] for r in ranking) == [1, 2, 3]
    base = next(r for r in ranking if r["method"] == "base")
    assert base["gain"] == 0
    code, out, err = cli(capsys, "learn", "compare", run_id)
    assert code == 0, err
    assert "fake-echo · probe n=48: macro_f1 1.000" in out and "PeRFICS (money): 1." in out
    # Weights of one's own: P and the gain only, so the order is by quality alone.
    code, out, err = cli(capsys, "learn", "compare", run_id, "--weights", "1,1,0", "--json")
    assert code == 0, err
    ranked = json.loads(out)["ranking"]
    assert [r["method"] for r in ranked] == ["probe", "kshot", "base"]
    assert ranked[0]["perfics"] == pytest.approx((ranked[0]["performance"] + ranked[0]["gain"]) / 2)


def test_a_stopped_curve_resumes_from_the_cli(capsys, fruit):
    from core.app import worker
    from core.evaluation.lifecycle import RunStopped

    run_id = learn_curve.create_curve(spec(sizes=(0, 8), repeats=2))  # as CURVE asks

    def stop(done, total, eta):
        if done == 3:
            fruit.runs.request_stop(run_id)
            raise RunStopped

    with pytest.raises(RunStopped):
        worker.work(run_id, stop)
    code, out, err = cli(capsys, "learn", "curve", "--resume", run_id, "--quiet", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "completed"
    assert len(fruit.curves.points(run_id)) == 8 * 7
    code, out, err = cli(capsys, "learn", "curve", "--resume", run_id)
    assert code == 0 and "already completed" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--sizes", "0,eight"), "--sizes takes whole numbers and 'all'; got 'eight'"),
        (("--methods", "kshot,magic"), "Unknown method(s) magic"),
        (("--repeats", "0"), "Repeats must be between 1 and 20"),
    ],
)
def test_bad_curve_arguments_exit_with_a_clear_error(capsys, args, message):
    code, out, err = cli(capsys, *CURVE, *args, "--json")
    assert code == 1 and message in err and "Traceback" not in err


def test_show_and_compare_refuse_a_run_that_is_no_curve(capsys, fruit):
    code, _, err = cli(capsys, "learn", "compare", "nope")
    assert code == 1 and "nope" in err
    code, _, err = cli(capsys, "learn", "curve", "--dataset", "fruit")
    assert code == 1 and "--dataset, --codebook and --models are needed" in err
    run_id = _curve(capsys)
    code, _, err = cli(capsys, "learn", "compare", run_id, "--n", "5")
    assert code == 1 and "no points at n = 5" in err
