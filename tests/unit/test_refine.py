"""The refinement loop on the fake backend: round counting, every stop reason, persistence."""

import dataclasses
import os

import pytest

from core.engine.fake import FAKE_INFO, FakeBackend
from core.errors import GenerationFailed, InvalidRequest
from core.evaluation.refine import ModelSwitched, refine, run_refinement
from core.evaluation.templates import CRITIQUE_V1, from_text
from core.store import Store
from core.types import RefineRequest, RunStatus, SamplerSettings, StopReason
from tests.support import scripted

CONTEXT_FULL = StopReason.CONTEXT_FULL
NO_ISSUES_FOUND = StopReason.NO_ISSUES_FOUND
ROUNDS_COMPLETED = StopReason.ROUNDS_COMPLETED
UNCHANGED_ANSWER = StopReason.UNCHANGED_ANSWER


def kinds(result):
    return [(s.round, s.kind) for s in result.steps]


def test_full_rounds():
    result = refine(FakeBackend(responder=scripted()), "Tell me a fact.", rounds=2)
    assert kinds(result) == [
        (0, "baseline"),
        (1, "critique"),
        (1, "verdict"),
        (1, "refined"),
        (2, "critique"),
        (2, "verdict"),
        (2, "refined"),
    ]
    assert result.stop_reason == ROUNDS_COMPLETED
    assert (result.baseline, result.final, result.rounds_done) == (
        "first answer",
        "better answer 2",
        2,
    )


def test_zero_rounds_is_just_the_baseline():
    result = refine(FakeBackend(responder=scripted()), "Tell me a fact.", rounds=0)
    assert kinds(result) == [(0, "baseline")]
    assert result.final == result.baseline and result.stop_reason == ROUNDS_COMPLETED


def test_stops_when_the_critique_finds_nothing_to_fix():
    result = refine(FakeBackend(responder=scripted(verdicts=["yes", "no"])), "Q?", rounds=5)
    assert result.stop_reason == NO_ISSUES_FOUND
    assert kinds(result)[-2:] == [(2, "critique"), (2, "verdict")]
    assert result.final == "better answer 1"


def test_stops_when_the_rewrite_no_longer_changes():
    backend = FakeBackend(responder=scripted(rewrites=["v2", " v2 \n", "v3"]))
    result = refine(backend, "Q?", rounds=5)
    assert result.stop_reason == UNCHANGED_ANSWER
    assert result.rounds_done == 2 and result.final == "v2"


def test_stops_when_the_conversation_outgrows_the_context():
    small = dataclasses.replace(FAKE_INFO, context_length=110)
    result = refine(FakeBackend(info=small, responder=scripted()), "Q?", rounds=5)
    assert result.stop_reason == CONTEXT_FULL
    assert 0 < result.rounds_done < 5


@pytest.mark.parametrize("rounds", [-1, 6])
def test_rounds_out_of_range(rounds):
    with pytest.raises(InvalidRequest, match="rounds"):
        refine(FakeBackend(), "Q?", rounds=rounds)


def test_empty_prompt():
    with pytest.raises(InvalidRequest, match="empty"):
        refine(FakeBackend(), "  ", rounds=1)


def test_steps_share_one_conversation_so_the_prefix_is_reused():
    result = refine(FakeBackend(responder=scripted()), "Tell me a fact.", rounds=2)
    for before, after in zip(result.steps, result.steps[1:], strict=False):
        g = after.generation
        assert (
            after.prefix_tokens
            == before.generation.prompt_tokens + before.generation.completion_tokens
        )
        assert g.prompt_tokens_reused >= after.prefix_tokens
        assert after.prefix_recomputed == 0
    totals = result.totals()
    assert totals.prefix_recomputed_fraction == 0.0
    assert totals.prompt_tokens_evaluated < totals.prompt_tokens


def test_streaming_reports_round_and_kind():
    seen = []
    refine(
        FakeBackend(responder=scripted()),
        "Q?",
        rounds=1,
        on_token=lambda r, k, piece: seen.append((r, k)),
    )
    assert {(0, "baseline"), (1, "critique"), (1, "verdict"), (1, "refined")} == set(seen)


def test_every_step_is_stored_with_the_run(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    request = RefineRequest("Q?", rounds=2, settings=SamplerSettings(seed=5))
    outcome = run_refinement(store, FakeBackend(responder=scripted()), request)
    run_id, result = outcome.run_id, outcome.result
    run = store.runs.get(run_id)
    assert (run.status, run.stop_reason) == ("completed", ROUNDS_COMPLETED)
    assert run.config.templates["critique"].id == "critique-v1"
    assert run.config.settings.seed == 5 and run.config.model.sha256
    assert run.pid == os.getpid() and run.heartbeat_at is not None  # claimed, then finished
    steps = store.generations.steps(run_id)
    assert list(zip(steps["round"], steps["kind"], strict=True)) == kinds(result)
    assert list(steps["text"]) == [s.text for s in result.steps]
    assert list(steps["prefix_tokens"]) == [s.prefix_tokens for s in result.steps]


def test_backend_error_in_round_two_keeps_finished_steps(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    # Calls: baseline, critique, verdict, refined (round 1), then round 2's critique fails.
    backend = FakeBackend(responder=scripted(), fail_on_call=5)
    outcome = run_refinement(store, backend, RefineRequest("Q?", 2))
    assert isinstance(outcome.error, GenerationFailed) and outcome.result is None
    # The run id comes back with the error: nobody has to guess "the newest run".
    (run_id,) = store.runs.refine_history().id
    assert outcome.run_id == run_id
    run = store.runs.get(run_id)
    assert run.status == "failed" and "fake backend failure" in run.error
    steps = store.generations.steps(run_id)
    assert list(steps["kind"]) == ["baseline", "critique", "verdict", "refined"]


class SwitchingBackend(FakeBackend):
    """Starts as one model and, from the third call on, answers as another."""

    def chat(self, messages, settings, on_token=None):
        if len(self.prompts) == 2:
            self.info = dataclasses.replace(self.info, name="other", sha256="1" * 64)
        return super().chat(messages, settings, on_token)


def test_model_switched_during_a_run_fails_the_run(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    outcome = run_refinement(store, SwitchingBackend(responder=scripted()), RefineRequest("Q?", 2))
    assert isinstance(outcome.error, ModelSwitched) and "other" in str(outcome.error)
    assert store.runs.get(outcome.run_id).status == "failed"
    assert list(store.generations.steps(outcome.run_id)["kind"]) == ["baseline", "critique"]


def test_interruption_marks_the_run_interrupted(tmp_path):
    store = Store(tmp_path / "r.duckdb")

    def interrupt(round_no, kind, piece):
        if kind == "critique":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        request = RefineRequest("Q?", 1)
        run_refinement(store, FakeBackend(responder=scripted()), request, on_token=interrupt)
    (run_id,) = store.runs.refine_history().id
    run = store.runs.get(run_id)
    assert run.status == RunStatus.INTERRUPTED and "Ctrl+C" in run.error
    assert list(store.generations.steps(run_id)["kind"]) == ["baseline"]


def test_edited_templates_get_a_new_id_and_are_used(tmp_path):
    assert from_text("critique", CRITIQUE_V1.text) is CRITIQUE_V1
    edited = from_text("critique", "List three weaknesses of your answer.")
    assert edited.id.startswith("critique-custom-") and edited.id != CRITIQUE_V1.id
    assert from_text("critique", "List three weaknesses of your answer.").id == edited.id
    with pytest.raises(InvalidRequest):
        from_text("critique", "   ")
    backend = FakeBackend(responder=lambda p: "yes" if "yes or no" in p else "text")
    store = Store(tmp_path / "r.duckdb")
    outcome = run_refinement(store, backend, RefineRequest("Q?", 1, templates={"critique": edited}))
    assert "List three weaknesses" in backend.prompts[1]
    assert store.runs.get(outcome.run_id).config.templates["critique"].id == edited.id


def test_a_rewrite_cut_short_by_the_context_is_discarded():
    roomy = dataclasses.replace(FAKE_INFO, context_length=130)
    backend = FakeBackend(info=roomy, responder=scripted(rewrites=["long " * 300]))
    result = refine(backend, "Q?", rounds=2, settings=SamplerSettings(max_tokens=500))
    assert result.stop_reason == CONTEXT_FULL
    assert result.final == result.baseline == "first answer"
    assert [s.kind for s in result.steps] == ["baseline", "critique", "verdict"]


def test_the_refine_use_case_returns_its_run_id_or_why_it_could_not_start(store):
    from core.app.refine import refine as refine_use_case

    refused = refine_use_case(FakeBackend(), RefineRequest("  ", 1))
    assert refused.run_id is None and isinstance(refused.error, InvalidRequest)
    assert store.runs.refine_history().empty  # a refused request leaves no run behind
    failed = refine_use_case(
        FakeBackend(responder=scripted(), fail_on_call=3), RefineRequest("Q?", 1)
    )
    assert isinstance(failed.error, GenerationFailed) and not failed.ok
    # A terminal writing another run in between cannot confuse whose run this is.
    later = refine_use_case(FakeBackend(responder=scripted()), RefineRequest("Other?", 1))
    assert later.ok and later.run_id != failed.run_id
    assert store.runs.get(failed.run_id).status == "failed"
    assert list(store.generations.steps(failed.run_id).kind) == ["baseline", "critique"]


FIXED_TWO_ROUNDS = [
    (0, "baseline"),
    (1, "critique"),
    (1, "refined"),
    (2, "critique"),
    (2, "refined"),
]


def test_fixed_rounds_ask_no_verdict_even_when_one_would_say_no():
    # With stop_early these verdicts would end the run after round 1's critique.
    backend = FakeBackend(responder=scripted(verdicts=["no", "no"]))
    result = refine(backend, "Q?", rounds=2, stop_early=False)
    assert kinds(result) == FIXED_TWO_ROUNDS
    assert not any("yes or no" in p for p in backend.prompts)
    assert (result.stop_reason, result.rounds_done, result.final) == (
        ROUNDS_COMPLETED,
        2,
        "better answer 2",
    )


def test_fixed_rounds_go_on_when_the_rewrite_is_unchanged():
    backend = FakeBackend(responder=scripted(rewrites=["v2", "v2", "v2"]))
    result = refine(backend, "Q?", rounds=3, stop_early=False)
    assert [s.kind for s in result.steps].count("refined") == 3
    assert result.stop_reason == ROUNDS_COMPLETED and result.final == "v2"


def test_fixed_rounds_still_stop_when_the_context_is_full():
    small = dataclasses.replace(FAKE_INFO, context_length=110)
    result = refine(FakeBackend(info=small, responder=scripted()), "Q?", 5, stop_early=False)
    assert result.stop_reason == CONTEXT_FULL and 0 < result.rounds_done < 5


def test_the_stored_refinement_records_its_stop_rule(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    backend = FakeBackend(responder=scripted(verdicts=["no"]))
    outcome = run_refinement(store, backend, RefineRequest("Q?", 2, stop_early=False))
    assert kinds(outcome.result) == FIXED_TWO_ROUNDS
    config = store.runs.get(outcome.run_id).config
    assert config.stop_early is False and config.to_json()["stop_early"] is False
    early = run_refinement(store, FakeBackend(responder=scripted()), RefineRequest("Q?", 1))
    assert store.runs.get(early.run_id).config.stop_early is True  # the request's default
