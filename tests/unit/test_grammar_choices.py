"""The fake backend answers any small finite grammar validly, without knowing who asked."""

from core.engine.fake import FakeBackend
from core.engine.grammar_choices import choices
from core.evaluation.judge import PAIR_GRAMMAR, SINGLE_GRAMMAR
from core.evaluation.templates import VERDICT_GRAMMAR
from core.types import SamplerSettings


def test_the_project_grammars_enumerate_exactly():
    assert choices(VERDICT_GRAMMAR) == ["yes", "no"]
    assert choices(SINGLE_GRAMMAR) == [f"Rating: {n}" for n in range(1, 11)]
    assert choices(PAIR_GRAMMAR) == ["Verdict: A", "Verdict: B", "Verdict: tie"]


def test_rules_groups_classes_and_escapes():
    grammar = 'root ::= greeting " " name\ngreeting ::= "hi" | "yo"\nname ::= [a-b] "\\n"'
    assert choices(grammar) == ["hi a\n", "hi b\n", "yo a\n", "yo b\n"]


def test_grammars_that_are_not_finite_or_not_understood_give_none():
    for grammar in (
        "root ::= [a-z]+",  # repetition
        'root ::= "a" root',  # recursion
        'root ::= "a" | missing',  # unknown rule
        "root ::= [^a]",  # negated class
        'root ::= ("a"',  # unbalanced
        "not a grammar at all {",
    ):
        assert choices(grammar) is None, grammar


def test_fake_backend_answers_within_any_finite_grammar():
    grammar = 'root ::= "Label: " ("cat" | "dog" | "bird")'
    backend = FakeBackend()
    answers = {
        backend.complete(f"question {i}", SamplerSettings(grammar=grammar)).text for i in range(30)
    }
    assert answers == {"Label: cat", "Label: dog", "Label: bird"}
    free = backend.complete("question", SamplerSettings(grammar="root ::= [a-z]+")).text
    assert free.startswith("Answer ")  # an open grammar gets the usual seeded text
