"""Training examples (core/evaluation/finetune_examples.py) on a word-level tokenizer: the
coding prompt as the workbench builds it, the loss masked to the answer and its end token,
and long texts cut from the text, never from the answer."""

import pytest

from core.engine.prompts import fallback_chat_prompt
from core.errors import InvalidRequest
from core.evaluation import coding
from core.evaluation.coding import CodingTask
from core.evaluation.finetune_examples import build_example, build_examples
from core.types.classification import Codebook, CodebookLabel
from core.types.finetune import IGNORE_INDEX

BOOK = Codebook("fruit", (CodebookLabel("A", "Apples"), CodebookLabel("B", "Bananas split")))
END = 2


class WordTokens:
    """One token per whitespace-separated word of the plain transcript; ids from a growing
    vocabulary, so equal words get equal ids."""

    def __init__(self):
        self.vocab: dict[str, int] = {}

    def _ids(self, text: str) -> list[int]:
        return [self.vocab.setdefault(w, 10 + len(self.vocab)) for w in text.split()]

    def prompt(self, conversation):
        return [1, *self._ids(fallback_chat_prompt(conversation))]

    def answer(self, text):
        return self._ids(text)

    @property
    def end(self):
        return END


def test_the_prompt_is_masked_and_the_answer_and_its_end_token_are_learnt():
    tokens, task = WordTokens(), CodingTask(BOOK)
    example = build_example(tokens, task, "t1", "ripe yellow fruit", ["B"], max_tokens=400)
    prompt = tokens.prompt(coding.messages(task, "ripe yellow fruit"))
    answer = tokens.answer("Bananas split")
    assert example.input_ids == (*prompt, *answer, END)
    assert example.labels == (*[IGNORE_INDEX] * len(prompt), *answer, END)
    assert example.answer_tokens == 3 and not example.text_cut
    # The workbench's zero-shot prompt: its system prompt, then the text as the user's turn.
    assert coding.messages(task, "ripe yellow fruit")[-1] == {
        "role": "user",
        "content": "Text: ripe yellow fruit",
    }


def test_a_multi_label_answer_is_the_json_list_the_grammar_spells():
    tokens, task = WordTokens(), CodingTask(BOOK, multi_label=True)
    example = build_example(tokens, task, "t1", "fruit salad", ["B", "A"], max_tokens=400)
    learnt = [t for t in example.labels if t != IGNORE_INDEX]
    # Codebook order, whatever order the codes came in: ["Apples", "Bananas split"]
    assert learnt == [*tokens.answer('["Apples", "Bananas split"]'), END]


def test_a_long_text_is_cut_from_its_end_and_the_answer_kept_whole():
    tokens, task = WordTokens(), CodingTask(BOOK)
    words = [f"w{i}" for i in range(60)]
    text = " ".join(words)
    shortest = len(tokens.prompt(coding.messages(task, "")))
    budget = shortest + 20  # 20 tokens more: 18 words of text and the answer's 2 tokens
    example = build_example(tokens, task, "t1", text, ["A"], max_tokens=budget)
    assert example.text_cut
    assert len(example.input_ids) == budget  # the longest prefix that fits fills it exactly
    assert example.input_ids[-2:] == (tokens.answer("Apples")[0], END)
    assert [t for t in example.labels if t != IGNORE_INDEX] == [tokens.answer("Apples")[0], END]
    # The prompt is the coding prompt of the text's first 18 words: 20 minus the answer.
    kept = " ".join(words[:18])
    assert list(example.input_ids[:-2]) == tokens.prompt(coding.messages(task, kept))


def test_a_prompt_that_cannot_fit_even_without_its_text_is_refused():
    tokens, task = WordTokens(), CodingTask(BOOK)
    shortest = len(tokens.prompt(coding.messages(task, "")))
    with pytest.raises(InvalidRequest, match="raise max_tokens"):
        build_example(tokens, task, "t1", "some text", ["A"], max_tokens=shortest)


def test_examples_follow_the_given_order():
    tokens, task = WordTokens(), CodingTask(BOOK)
    texts = {"x": "one", "y": "two"}
    labels = {"x": ("A",), "y": ("B",)}
    built = build_examples(tokens, task, ["y", "x"], texts, labels, max_tokens=400)
    assert [e.text_id for e in built] == ["y", "x"]
