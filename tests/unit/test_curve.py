"""Learning curves on the fake backend and the fake embedder: the aggregation across repeats
worked by hand, the plan (one held-out set, nested seeded subsets, sizes capped at the pool),
a curve of k-shot and probe end to end (examples only from each point's training texts),
stop and resume without redoing a point or embedding again, the comparison's costs worked by
hand and its PeRFICS ranking, and the refusals."""

import math

import pandas as pd
import pytest

from core.app import context, learn_curve, runs, worker
from core.engine.embedding import FakeEmbedder
from core.engine.fake import FAKE_INFO, FakeBackend
from core.errors import InvalidRequest
from core.evaluation.curve import plan_curve, plan_points
from core.evaluation.curve_results import compare_rows, t_quantiles
from core.evaluation.lifecycle import RunStopped
from core.evaluation.probe import split_texts
from core.ranking.learning import rank_compare
from core.store.curves import PointRow
from core.types import HardwareProfile, ItemOutcome, RunStatus, Weights
from core.types.curves import CurveMethod
from core.types.learning import LabelSource, ProbeSpec
from tests.unit.curve_support import example_learner, fill, spec

T2 = 4.302652729911275  # Student's t, 97.5 % quantile, 2 degrees of freedom
T1 = 12.706204736174698  # ... 1 degree of freedom


@pytest.fixture
def fruit(fake_mode, store):
    fill(store)
    return store


@pytest.fixture
def learner(monkeypatch):
    """Every model is the example-learning fake; its backends and prompts are kept."""
    made = []

    def open_backend(info, cfg=None):
        made.append(example_learner(info))
        return made[-1]

    monkeypatch.setattr(context, "open_backend", open_backend)
    return made


@pytest.fixture
def embedders(monkeypatch):
    opened = []

    def open_embedder(info, cfg):
        opened.append(FakeEmbedder(info))
        return opened[-1]

    monkeypatch.setattr(learn_curve, "open_embedder", open_embedder)
    return opened


def _row(method, n, repeat, value, low=None, high=None, texts=12, train=0.0, reason=None):
    return PointRow(method, "m", n, repeat, "accuracy", value, low, high, texts, train, 1.0, reason)


def test_t_quantiles_are_students():
    assert t_quantiles(3) == pytest.approx([T1, T2])
    assert t_quantiles(5)[3] == pytest.approx(2.776445105197793)
    assert t_quantiles(1) == pytest.approx([T1])  # never empty


def test_aggregation_across_repeats_worked_by_hand(store):
    store.init()
    rows = [
        # n=8: 0.5, 0.6, 0.7: mean 0.6, sd 0.1, half-width 4.3027 · 0.1 / √3 = 0.248414.
        *[
            _row("kshot", 8, r, v, texts=t, train=s)
            for r, v, t, s in [(0, 0.5, 12, 3.0), (1, 0.6, 11, 6.0), (2, 0.7, 12, 9.0)]
        ],
        # n=16: 0.9, 1, 1: mean 29/30, sd √(1/300), half-width T2 · √(1/300) / √3 = T2 / 30
        # = 0.143422; the high end 1.11 is clipped to 1.
        *[_row("kshot", 16, r, v) for r, v in [(0, 0.9), (1, 1.0), (2, 1.0)]],
        # n=0, one repeat: its own bootstrap interval.
        _row("kshot", 0, 0, 0.4, 0.2, 0.6),
        # two repeats with a value and one skipped: 0.60, 0.62, half 12.706 · 0.014142 / √2.
        _row("probe", 4, 0, 0.60),
        _row("probe", 4, 1, 0.62),
        _row("probe", 4, 2, None, reason="one label"),
        _row("probe", 0, 0, None, texts=0, reason="no training texts"),
    ]
    for no, row in enumerate(rows):
        store.curves.finish("r1", no, ItemOutcome("done"), [row])
    table = store.curves.aggregate("r1", t_quantiles(3)).set_index(["method", "n_train"])

    n8 = table.loc[("kshot", 8)]
    assert (n8.repeats, n8.interval, n8.n_texts) == (3, "t", 11)
    assert n8["mean"] == pytest.approx(0.6)
    assert (n8.low, n8.high) == pytest.approx((0.6 - 0.248414, 0.6 + 0.248414), abs=1e-6)
    assert n8.train_seconds == pytest.approx(6.0)
    n16 = table.loc[("kshot", 16)]
    assert (n16["mean"], n16.low, n16.high) == pytest.approx((29 / 30, (29 - T2) / 30, 1.0))
    assert (29 - T2) / 30 == pytest.approx(0.823245, abs=1e-6)
    n0 = table.loc[("kshot", 0)]
    assert (n0.repeats, n0.interval, n0["mean"], n0.low, n0.high) == (1, "bootstrap", 0.4, 0.2, 0.6)
    p4 = table.loc[("probe", 4)]
    half = T1 * math.sqrt(0.0002) / math.sqrt(2)  # sd of (0.60, 0.62) = √0.0002
    assert (p4.repeats, p4.points, p4.interval) == (2, 3, "t")
    assert (p4["mean"], p4.low, p4.high) == pytest.approx((0.61, 0.61 - half, 0.61 + half))
    assert half == pytest.approx(0.127062, abs=1e-6)
    p0 = table.loc[("probe", 0)]
    assert p0.repeats == 0 and pd.isna(p0["mean"]) and p0.reason == "no training texts"


def test_the_plan_holds_out_one_set_and_nests_seeded_training_subsets(fruit):
    config, units = plan_curve(fruit, spec(), threads=2)
    # 60 texts, 12 held out (4 of each label); sizes capped at the pool of 48.
    assert (len(config.held_out_ids), config.pool_size) == (12, 48)
    assert config.sizes == (0, 2, 8, 48)
    # n = 0 and the whole pool once; 2 and 8 three times; two methods.
    assert len(units) == 2 * (1 + 3 + 3 + 1) == len(plan_points(config))
    assert [u.category for u in units[:4]] == ["kshot", "probe", "kshot", "kshot"]
    held = set(config.held_out_ids)
    labels = config.label_map
    assert sorted(labels[t][0] for t in held) == ["A"] * 4 + ["B"] * 4 + ["C"] * 4
    for order in config.orders:
        assert sorted(order) == sorted(config.orders[0]) and not held & set(order)
        assert config.training_ids(4, 0) == config.orders[0][:4]
    assert len(set(config.orders)) == 3  # three different seeded orders
    # Repeat 0 is the order `perfics learn probe --seed 0 --held-out 12` trains on.
    probe_spec = ProbeSpec("p", "fruit", "fruit", None, LabelSource.GOLD, held_out=12)
    split = split_texts(labels, probe_spec)
    assert config.orders[0] == split.train and config.held_out_ids == split.held_out


def test_a_curve_measures_k_shot_and_probe_on_the_same_held_out_texts(fruit, learner, embedders):
    run_id = learn_curve.create_curve(spec())
    assert worker.work(run_id) == RunStatus.COMPLETED
    config = learn_curve.curve_config(run_id)
    labels = config.label_map
    points = fruit.curves.points(run_id)
    assert len(points) == 16 * 7  # 16 points × every overall metric
    table = learn_curve.table(run_id).set_index(["method", "n_train"])
    # Zero-shot the fake answers Apples: right on the 4 apple texts of 12.
    assert table.loc[("kshot", 0), "accuracy"] == pytest.approx(4 / 12)
    assert table.loc[("kshot", 0), "interval"] == "bootstrap"
    assert table.loc[("probe", 48), "accuracy"] == 1.0  # separable by keyword
    # A repeat whose 2 training texts share one label is skipped, with the reason.
    two_labels = [len({labels[t] for t in config.training_ids(2, r)}) > 1 for r in range(3)]
    assert table.loc[("probe", 2), "repeats"] == sum(two_labels) == 2  # seed 0: repeat 1
    skipped = fruit.curves.failures(run_id).set_index("point").reason
    assert skipped["probe n=2 #2"] == "the 2 training text(s) all have label B; a probe needs two"
    assert table.loc[("probe", 0), "repeats"] == 0
    assert "no training texts" in table.loc[("probe", 0), "reason"]
    assert (table.n_texts[table.repeats > 0] == 12).all()
    # k-shot prompts: 12 per point, in plan order, examples only from that point's n texts.
    (backend,) = learner
    kshot = [p for p in plan_points(config) if p.method == CurveMethod.KSHOT]
    texts = {t.id: t.text for t in fruit.datasets.texts("fruit")}
    held_texts = {texts[t] for t in config.held_out_ids}
    assert len(backend.prompts) == 12 * len(kshot)
    for i, point in enumerate(kshot):
        allowed = {texts[t] for t in config.training_ids(point.n_train, point.repeat)}
        for prompt in backend.prompts[12 * i : 12 * (i + 1)]:
            turns = prompt.split("User: Text: ")[1:]
            shown = [t.split("\n\nAssistant:")[0] for t in turns[:-1]]
            assert len(shown) == min(2, point.n_train)
            assert set(shown) <= allowed and not set(shown) & held_texts
    # The texts were embedded once, for every probe point.
    (embedder,) = embedders
    assert embedder.calls == 12 + 48


def test_a_stopped_curve_resumes_without_redoing_a_point_or_embedding_again(
    fruit, learner, embedders
):
    run_id = learn_curve.create_curve(spec())
    fresh = learn_curve.progress(run_id)  # nothing timed yet: no guess, the groups named
    assert (fresh.done, fresh.total, fresh.eta_s) == (0, 16, None)
    assert fresh.unmeasured == ("kshot · fake-echo", "probe · fake-echo")

    def stop_after_eight(done, total, eta):
        if done == 8:  # n=0 (2), n=2 k-shot (3) and probe (3): the texts are embedded
            fruit.runs.request_stop(run_id)
            raise RunStopped

    with pytest.raises(RunStopped):
        worker.work(run_id, stop_after_eight)
    assert fruit.runs.get(run_id).status == RunStatus.STOPPED
    assert len(fruit.curves.points(run_id)) == 8 * 7
    assert len(embedders) == 1 and (learn_curve.cache_dir(run_id) / "embeddings-0.npz").exists()
    first_prompts = len(learner[0].prompts)
    assert first_prompts == 12 * 4  # 4 k-shot points

    runs.prepare_resume(run_id)
    # Time left: per method, its pending points × the median seconds of its finished ones.
    seconds = fruit.db.query_df(
        "SELECT category, seconds FROM run_items WHERE run_id = ? AND status = 'done'", [run_id]
    )
    median = seconds.groupby("category").seconds.median()
    waiting = learn_curve.progress(run_id)
    assert (waiting.status, waiting.done, waiting.total, waiting.unmeasured) == (
        "queued",
        8,
        16,
        (),
    )
    assert waiting.eta_s == pytest.approx(4 * median["kshot"] + 4 * median["probe"])
    assert worker.work(run_id) == RunStatus.COMPLETED
    assert len(embedders) == 1  # the kept embeddings served the rest
    assert len(fruit.curves.points(run_id)) == 16 * 7  # the primary key forbids duplicates
    assert len(learner[1].prompts) == 12 * 4  # the other 4 k-shot points only

    learn_curve.delete_curve(run_id)
    assert fruit.curves.points(run_id).empty
    assert not learn_curve.cache_dir(run_id).exists()


def test_a_curve_refuses_a_model_file_that_changed(fruit, learner, monkeypatch):
    from dataclasses import replace

    from tests.unit.curve_support import example_learner

    run_id = learn_curve.create_curve(spec(methods=(CurveMethod.KSHOT,)))
    other = replace(FAKE_INFO, sha256="1" * 64)
    monkeypatch.setattr(context, "open_backend", lambda info, cfg=None: example_learner(other))
    with pytest.raises(InvalidRequest, match="not the file this curve started with"):
        worker.work(run_id)
    assert fruit.runs.get(run_id).status == RunStatus.FAILED
    assert fruit.curves.points(run_id).empty


def test_compare_prices_coding_and_training_worked_by_hand(fruit):
    config, _ = plan_curve(fruit, spec(), threads=2)
    hw = HardwareProfile("rented", cost_per_hour=3.6, watts=100.0, electricity_per_kwh=0.0)
    assert hw.busy_cost_per_second == pytest.approx(0.001)
    long = pd.DataFrame(
        [
            # method, n, metric, mean, low, high, repeats, n_texts, train s, code s
            ("kshot", 0, "macro_f1", 0.30, 0.1, 0.5, 1, 12, 0.0, 12.0),
            ("kshot", 8, "macro_f1", 0.50, 0.4, 0.6, 3, 12, 0.0, 24.0),
            ("probe", 8, "macro_f1", 0.80, 0.7, 0.9, 3, 12, 36.0, 0.6),
        ],
        columns=[
            "method",
            "n_train",
            "metric",
            "mean",
            "low",
            "high",
            "repeats",
            "n_texts",
            "train_seconds",
            "code_seconds",
        ],
    ).assign(model="fake-echo", interval="t", reason=None)
    base, kshot, probe = compare_rows(config, long, 8, hw)
    assert (base.method, base.n_train, kshot.method, probe.method) == ("base", 0, "kshot", "probe")
    # 24 s for 12 texts: 2 s a text; 1,000 texts 2,000 s at 0.001 a second.
    assert kshot.seconds_per_text == pytest.approx(2.0)
    assert kshot.money_per_1000 == pytest.approx(2.0)
    assert kshot.energy_kwh_per_1000 == pytest.approx(2000 * 100 / 3.6e6)
    # 36 s of training on 2 threads: 0.02 CPU-hours, 0.001 kWh at 100 W, 0.036 of money.
    assert probe.train_cpu_hours == pytest.approx(0.02)
    assert probe.train_energy_kwh == pytest.approx(0.001)
    assert probe.train_money == pytest.approx(0.036)
    assert probe.metrics["macro_f1"].value == 0.8 and probe.metrics["macro_f1"].n == 12
    # PeRFICS: P the metric, G its gain over the model zero-shot, cost money per 1,000.
    ranked = rank_compare((base, kshot, probe), Weights(1.0, 1.0, 0.0, "money"))
    assert list(ranked.method) == ["probe", "kshot", "base"]
    assert list(ranked.gain) == pytest.approx([0.5, 0.2, 0.0])
    assert ranked.perfics[0] == pytest.approx((0.8 + 0.5) / 2)
    with pytest.raises(InvalidRequest, match="does not measure memory"):
        rank_compare((base,), Weights(1.0, 0.5, 0.5, "memory"))


def test_a_compare_of_a_finished_curve_defaults_to_the_whole_pool(fruit, learner, embedders):
    run_id = learn_curve.create_curve(spec(sizes=(0, 8), repeats=1))
    worker.work(run_id)
    report = learn_curve.compare(run_id)
    assert [(r.method, r.n_train) for r in report.rows] == [
        ("base", 0),
        ("kshot", 48),
        ("probe", 48),
    ]
    assert report.rows[2].metrics["accuracy"].value == 1.0
    assert all(r.seconds_per_text and r.seconds_per_text > 0 for r in report.rows)
    with pytest.raises(InvalidRequest, match="no points at n = 5"):
        learn_curve.compare(run_id, 5)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(repeats=0), "Repeats must be between 1 and 20"),
        (dict(shots=0), "k of the k-shot method must be between 1"),
        (dict(sizes=(-1, 8)), "cannot be negative"),
        (dict(methods=()), "at least one method"),
        (dict(models=(FAKE_INFO, FAKE_INFO)), "listed twice"),
        (dict(dataset="nope"), "No dataset named 'nope'"),
        (dict(held_out=59), "leaves too few"),
        (dict(source=LabelSource.VERIFIED), "learning curve splits its texts as a probe"),
    ],
)
def test_bad_curves_are_refused_before_anything_is_stored(fruit, changes, message):
    with pytest.raises(InvalidRequest, match=message):
        learn_curve.create_curve(spec(**changes))
    assert learn_curve.curves().empty


def test_lora_is_refused_with_the_reason_when_fine_tuning_is_unavailable(fruit, monkeypatch):
    monkeypatch.setattr(learn_curve, "lora_unavailable", lambda: "No torch here.")
    with pytest.raises(InvalidRequest, match="No torch here. Or choose kshot and/or probe"):
        learn_curve.create_curve(spec(methods=(CurveMethod.KSHOT, CurveMethod.LORA)))
    assert learn_curve.curves().empty


def test_the_lora_method_trains_on_each_points_texts_and_codes_with_its_adapter(fruit):
    """The lora method's plumbing, with a stand-in trainer: LoRA training itself is
    core/app/finetune.py's (tests/unit/test_finetune_run.py, tests/real_model/)."""
    from core.evaluation import curve as curves
    from core.evaluation.curve_methods import CurveTools
    from core.types.finetune import AdapterManifest, LoraSettings

    requests, opened, noted = [], [], {}

    def train(request):
        requests.append(request)
        return AdapterManifest(
            request.adapter, request.base.name, request.base.sha256, "fake", "fruit", "fruit",
            ("A", "B", "C"), "hash", len(request.train_ids), 0, request.settings, 1, 10, 12.0,
            12.5, 0.0, None, None, "ft-run", "2026-01-01T00:00:00+00:00",
        )  # fmt: skip

    def open_adapter(name):
        opened.append(name)
        keyword = {"apple": "Apples", "banana": "Bananas", "cherry": "Cherries"}
        return FakeBackend(responder=lambda p: keyword[p.split("Text: ")[-1].split()[0]])

    lora = LoraSettings(seed=7, threads=1)
    run_id = curves.create_curve(fruit, spec(methods=(CurveMethod.LORA,), lora=lora), threads=2)
    tools = CurveTools(
        load=lambda n: None,
        open_embedder=None,
        train_lora=train,
        open_adapter=open_adapter,
        note_adapter_metrics=noted.__setitem__,
    )
    assert curves.run_curve(fruit, run_id, tools) == RunStatus.COMPLETED
    config = learn_curve.curve_config(run_id)
    trained = [p for p in plan_points(config) if p.n_train > 0]
    assert [(len(r.train_ids), r.settings.seed) for r in requests] == [
        (p.n_train, 7 + p.repeat) for p in trained
    ]
    for request, point in zip(requests, trained, strict=True):
        assert request.train_ids == config.training_ids(point.n_train, point.repeat)
        assert dict(request.labels) == {t: config.label_map[t] for t in request.train_ids}
        assert request.adapter == f"curve-{run_id[:8]}-m0-n{point.n_train}-r{point.repeat}"
    assert opened == [f"fake-echo+{r.adapter}" for r in requests]
    table = learn_curve.table(run_id).set_index(["method", "n_train"])
    assert table.loc[("lora", 48), "accuracy"] == 1.0  # the stand-in adapter knows the fruit
    assert table.loc[("lora", 48), "train_seconds"] == 12.5  # the whole training job
    # Each adapter's manifest is given the held-out metrics its point measured.
    assert sorted(noted) == sorted(r.adapter for r in requests)
    n48 = next(r.adapter for r in requests if len(r.train_ids) == 48)
    assert noted[n48]["accuracy"].value == table.loc[("lora", 48), "accuracy"]
    assert "base model zero-shot" in table.loc[("lora", 0), "reason"]
    (row,) = [r for r in learn_curve.compare(run_id).rows if r.method == "lora"]
    assert row.train_cpu_hours == pytest.approx(12.5 * 1 / 3600)  # LoRA's own threads


def test_the_chart_draws_one_line_and_band_per_model_and_method_on_a_log_like_axis():
    from core.app.curve_charts import curve_figure, x_position

    table = pd.DataFrame(
        {
            "model": ["m"] * 5,
            "method": ["kshot", "kshot", "probe", "probe", "probe"],
            "n_train": [0, 8, 0, 8, 48],
            "repeats": [1, 3, 0, 3, 1],
            "n_texts": [12, 12, 0, 12, 12],
            "accuracy": [0.3, 0.5, None, 0.7, 0.9],
            "accuracy_low": [0.1, 0.4, None, 0.6, 0.8],
            "accuracy_high": [0.5, 0.6, None, 0.8, 1.0],
        }
    )
    fig = curve_figure(table, "accuracy", shots=5)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert [t.name for t in lines] == ["m · k-shot (k = 5)", "m · probe"]
    assert len(bands) == 2
    assert list(lines[1].x) == [x_position(8), x_position(48)]  # the skipped n = 0 left out
    assert list(bands[1].y) == [0.8, 1.0, 0.8, 0.6]  # highs forward, lows back
    assert x_position(0) == 0 and x_position(7) == 3  # log2(1 + n)
    assert list(fig.layout.xaxis.ticktext) == ["0", "8", "48"]
