"""Offline LLM judges. Verdict formats are forced with llama.cpp grammars, so they always
parse; a judge that fails anyway is recorded as a failure, never as a score."""

from __future__ import annotations

from core.engine import Backend
from core.errors import PerficsError
from core.types import Judgment, ModelInfo, SamplerSettings

SINGLE_GRAMMAR = 'root ::= "Rating: " ([1-9] | "10")'
PAIR_GRAMMAR = 'root ::= "Verdict: " ("A" | "B" | "tie")'
JUDGE_SETTINGS = dict(temperature=0.0, seed=0, max_tokens=8)
MAX_ANSWER_CHARS = 3000  # keeps two answers and the question inside a small judge's context

SINGLE_TEMPLATE = """You are an impartial judge. Rate the answer to the question below on a \
scale of 1 to 10 for helpfulness, correctness, relevance, depth and clarity.

[Question]
{question}

[Answer]
{answer}

Reply exactly in the form "Rating: N"."""

PAIR_TEMPLATE = """You are an impartial judge. Compare the two answers to the question below \
for helpfulness, correctness, relevance, depth and clarity. Ignore their order and length.

[Question]
{question}

[Answer A]
{a}

[Answer B]
{b}

Reply exactly "Verdict: A" if A is better, "Verdict: B" if B is better, or "Verdict: tie"."""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ANSWER_CHARS else text[:MAX_ANSWER_CHARS] + " […]"


def _ask(judge: Backend, prompt: str, grammar: str) -> str:
    settings = SamplerSettings(grammar=grammar, **JUDGE_SETTINGS)
    return judge.chat([{"role": "user", "content": prompt}], settings).text.strip()


def grade(judge: Backend, question: str, answer: str, subject: str) -> Judgment:
    try:
        text = _ask(
            judge, SINGLE_TEMPLATE.format(question=question, answer=_clip(answer)), SINGLE_GRAMMAR
        )
        return Judgment("single", subject, "ok", score=float(text.removeprefix("Rating: ")))
    except (PerficsError, ValueError) as exc:
        return Judgment("single", subject, "failed", error=f"{type(exc).__name__}: {exc}")


def compare(
    judge: Backend, question: str, first: str, second: str, subject: str, order_ab: str
) -> Judgment:
    a, b = (first, second) if order_ab == "AB" else (second, first)
    try:
        text = _ask(
            judge, PAIR_TEMPLATE.format(question=question, a=_clip(a), b=_clip(b)), PAIR_GRAMMAR
        )
        verdict = text.removeprefix("Verdict: ")
        if verdict not in ("A", "B", "tie"):
            raise ValueError(f"unexpected verdict {text!r}")
        return Judgment("pair", subject, "ok", verdict=verdict, order_ab=order_ab)
    except (PerficsError, ValueError) as exc:
        return Judgment(
            "pair", subject, "failed", order_ab=order_ab, error=f"{type(exc).__name__}: {exc}"
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
    judge: Backend, question: str, first: str, second: str, subject: str
) -> list[Judgment]:
    return [compare(judge, question, first, second, subject, order) for order in ("AB", "BA")]


def default_judge(models: list[ModelInfo]) -> ModelInfo | None:
    """The largest usable local model: the best judge we can run offline."""
    usable = [m for m in models if m.usable]
    return max(usable, key=lambda m: m.file_size) if usable else None
