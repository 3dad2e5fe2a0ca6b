"""SmolLM2 as an offline judge: every verdict parses because the grammar forces its form."""

import pytest

from core.evaluation.judge import combine_orders, grade, judge_pair

pytestmark = pytest.mark.real_model

CASES = [
    ("What is the capital of France?", "Paris is the capital of France.", "I like turtles."),
    ("What is 2 + 2?", "4", "2 + 2 equals 5."),
    ("Name a primary colour.", "Red.", "Red, blue and yellow are primary colours of paint."),
]


def test_smollm2_judge_verdicts_all_parse(smollm2):
    grades, pairs = [], []
    for question, good, bad in CASES:
        grades += [grade(smollm2, question, good, "good"), grade(smollm2, question, bad, "bad")]
        pairs.append(judge_pair(smollm2, question, good, bad, "good|bad"))
    assert all(g.status == "ok" and 1 <= g.score <= 10 for g in grades), grades
    for ab, ba in pairs:
        assert ab.status == ba.status == "ok"
        assert ab.verdict in ("A", "B", "tie") and ba.verdict in ("A", "B", "tie")
        outcome, consistent = combine_orders(ab, ba)
        assert outcome in ("first", "second", "tie") and consistent in (True, False)
