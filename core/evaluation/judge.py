"""Offline LLM judges. Verdict formats are forced with llama.cpp grammars, so they always
parse; a judge that fails anyway is recorded as a failure, never as a score."""

from __future__ import annotations

from core.engine import Backend
from core.errors import EndpointError, EndpointRefusedRequest, PerficsError
from core.types import Judgment, ModelInfo, SamplerSettings

SINGLE_GRAMMAR = 'root ::= "Rating: " ([1-9] | "10")'
PAIR_GRAMMAR = 'root ::= "Verdict: " ("A" | "B" | "tie")'
# No repeat penalty: it would push a judge away from a rating that happens to appear in the
# question or answer (a "4" in "2 + 2 = 4"), and the sampled verdict would then disagree with
# the probabilities the verdict is weighted by.
JUDGE_SETTINGS = dict(temperature=0.0, seed=0, max_tokens=8, repeat_penalty=1.0)
MAX_ANSWER_CHARS = 3000  # keeps two answers and the question inside a small judge's context

SINGLE_TEMPLATE = """You are an impartial judge. Rate the answer to the question below on a \
scale of 1 to 10 for helpfulness, correctness, relevance, depth and clarity.

[Question]
{question}

[Answer]
{answer}{reference}

Reply exactly in the form "Rating: N"."""

PAIR_TEMPLATE = """You are an impartial judge. Compare the two answers to the question below \
for helpfulness, correctness, relevance, depth and clarity. Ignore their order and length.

[Question]
{question}

[Answer A]
{a}

[Answer B]
{b}{reference}

Reply exactly "Verdict: A" if A is better, "Verdict: B" if B is better, or "Verdict: tie"."""

RATINGS = tuple(str(n) for n in range(1, 11))
VERDICTS = ("A", "B", "tie")
# MT-bench's reference-guided grading: a reference answer (kind "answer", e.g. FastChat's GPT-4
# answers) is shown to the judge; it cannot be checked mechanically.
REFERENCE_BLOCK = "\n\n[Reference answer, assumed correct]\n{reference}"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ANSWER_CHARS else text[:MAX_ANSWER_CHARS] + " […]"


def _reference(reference: str | None) -> str:
    return REFERENCE_BLOCK.format(reference=_clip(reference)) if reference else ""


def _choose(
    judge: Backend,
    messages: list[dict[str, str]],
    grammar: str,
    prefix: str,
    choices: tuple[str, ...],
) -> tuple[str, dict[str, float] | None]:
    """The judge's answer and its distribution over the choices. A backend with token
    probabilities answers on its own tokens (the greedy choice, see core/engine/choices.py);
    any other is sampled under the grammar and carries no distribution."""
    scorer = getattr(judge, "score_choices", None)
    scored = scorer(messages, prefix, choices) if scorer is not None else None
    if scored is not None:
        return scored.greedy, scored.probabilities
    settings = SamplerSettings(grammar=grammar, **JUDGE_SETTINGS)
    text = judge.chat(messages, settings).text.strip()
    answer = text.removeprefix(prefix)
    if answer not in choices:
        raise ValueError(f"unexpected verdict {text!r}")
    return answer, None


def _stops_the_run(exc: Exception) -> bool:
    """An endpoint error other than a refusal of this one prompt: the judge's server away, or
    not set up to serve (a missing key, 401, an unknown model). It propagates, so the unit
    stays pending, to be judged on resume once the judge answers; a refused prompt (too long
    for its context, say) is a failed judgment like any other."""
    return isinstance(exc, EndpointError) and not isinstance(exc, EndpointRefusedRequest)


def expected_rating(probabilities: dict[str, float] | None) -> float | None:
    """G-Eval's score: the mean rating under the judge's distribution over 1..10."""
    if not probabilities:
        return None
    return sum(int(rating) * p for rating, p in probabilities.items())


def grade(
    judge: Backend, question: str, answer: str, subject: str, reference: str | None = None
) -> Judgment:
    prompt = SINGLE_TEMPLATE.format(
        question=question, answer=_clip(answer), reference=_reference(reference)
    )
    messages = [{"role": "user", "content": prompt}]
    try:
        rating, p = _choose(judge, messages, SINGLE_GRAMMAR, "Rating: ", RATINGS)
    except (PerficsError, ValueError) as exc:
        if _stops_the_run(exc):
            raise
        return Judgment("single", subject, "failed", error=f"{type(exc).__name__}: {exc}")
    return Judgment("single", subject, "ok", score=float(rating), expected_score=expected_rating(p))


def compare(
    judge: Backend,
    question: str,
    first: str,
    second: str,
    subject: str,
    order_ab: str,
    reference: str | None = None,
) -> Judgment:
    a, b = (first, second) if order_ab == "AB" else (second, first)
    prompt = PAIR_TEMPLATE.format(
        question=question, a=_clip(a), b=_clip(b), reference=_reference(reference)
    )
    messages = [{"role": "user", "content": prompt}]
    try:
        verdict, p = _choose(judge, messages, PAIR_GRAMMAR, "Verdict: ", VERDICTS)
    except (PerficsError, ValueError) as exc:
        if _stops_the_run(exc):
            raise
        return Judgment(
            "pair", subject, "failed", order_ab=order_ab, error=f"{type(exc).__name__}: {exc}"
        )
    p = p or {}
    return Judgment(
        "pair",
        subject,
        "ok",
        verdict=verdict,
        order_ab=order_ab,
        p_a=p.get("A"),
        p_b=p.get("B"),
        p_tie=p.get("tie"),
    )


def winner_in_order(verdict: str, order_ab: str) -> str:
    """Map a verdict about positions A/B back to the subjects: "first", "second" or "tie"."""
    if verdict == "tie":
        return "tie"
    first_is_a = order_ab == "AB"
    return "first" if (verdict == "A") == first_is_a else "second"


def combine_orders(ab: Judgment, ba: Judgment) -> tuple[str | None, bool | None]:
    """The pair's outcome from both presentation orders. A winner counts only when both orders
    agree; any disagreement is a tie. Returns (outcome, consistent); (None, None) if a judge
    call failed, so failures never turn into ties."""
    if ab.status != "ok" or ba.status != "ok":
        return None, None
    w1, w2 = winner_in_order(ab.verdict, "AB"), winner_in_order(ba.verdict, "BA")
    return (w1 if w1 == w2 else "tie"), w1 == w2


def judge_pair(
    judge: Backend,
    question: str,
    first: str,
    second: str,
    subject: str,
    reference: str | None = None,
) -> list[Judgment]:
    return [
        compare(judge, question, first, second, subject, order, reference) for order in ("AB", "BA")
    ]


def default_judge(models: list[ModelInfo]) -> ModelInfo | None:
    """The best judge we can run offline: an instruction-tuned model (one with a chat
    template) before a base model, which only continues text and tends to rate everything
    alike; the largest file among those. A model with a LoRA adapter is never picked: it was
    tuned for one task, and its base is there to judge instead. Nor is an endpoint: prompts
    go to a server only when the user names it as the judge."""
    usable = [m for m in models if m.usable and not m.is_adapter and not m.is_endpoint]
    if not usable:
        return None
    return max(usable, key=lambda m: (m.has_chat_template, m.file_size))


def judge_choice_reason(judge: ModelInfo, models: list[ModelInfo]) -> str:
    """Why `auto` picked this judge, in words the user sees beside the choice."""
    usable = [m for m in models if m.usable and not m.is_adapter]
    if not judge.has_chat_template:
        return (
            f"{judge.name} is a base model (no chat template) and no instruction-tuned model "
            "is available; base models make weak judges."
        )
    bigger = [m.name for m in usable if not m.has_chat_template and m.file_size > judge.file_size]
    passed = f"; passed over base model(s) {', '.join(bigger)}" if bigger else ""
    return f"{judge.name}: the largest instruction-tuned model (it has a chat template){passed}."


def base_model_note(judge: ModelInfo | None) -> str | None:
    """A warning for a judge that is a base model, or None."""
    if judge is not None and not judge.has_chat_template:
        return f"{judge.name} is a base model (no chat template): a weak judge."
    return None
