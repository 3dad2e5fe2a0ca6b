"""One model codes one text: the prompt built from the codebook, the grammar that forces a
parseable answer, and each proposed label's confidence from the model's token probabilities.

Single-label: the answer is one label name. The model's distribution over the label names is
read from its next-token probabilities on the names' token trie, masked to the names and
renormalised at each branching point (Backend.score_choices, core/engine/choices.py); the
proposal is the name a temperature-0 decode along the names' own tokens reaches, and its
confidence is its probability among the names. llama.cpp's grammar sampler, left to itself,
may instead start a name with a lone capital and spell the rest letter by letter, a path the
model would never take unconstrained: on 200 US Congress bills it then wrote the same label as
this decode for 6 (SmolLM2) and 1 (Gemma 3 270M) and scored 3.5-5 % against the human
coding, chance for 20 labels, where this decode scored 19 % and 22.5 % (scripts/
bench_classify.py). A backend without token probabilities samples under the grammar instead
and leaves the confidence empty.

Multi-label: the answer is a JSON list of distinct label names in codebook order (the
grammar allows each label only after the ones before it, so no label can repeat), optionally
as {"label": name, "intensity": "low" | "medium" | "high"} objects. It is decoded item by item
the same way: at each step the choices are the labels the grammar allows next (and, after
the first, the end of the list), each spelled in its own tokens; the likeliest is taken, and
its probability among those choices is its confidence. The answer is written exactly as the
grammar spells it, so it always parses.

Few-shot examples are earlier turns of the conversation (the text as the user's turn, its
labels as the assistant's answer), drawn once per run from verified or gold labels of other
texts (core/evaluation/coding_run.py), so every prompt of a run shares its prefix and the
model's KV cache reuses it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from core.engine import Backend
from core.errors import GenerationFailed
from core.types import SamplerSettings
from core.types.classification import INTENSITIES, Codebook, Coding, ProposedLabel

PROMPT_VERSION = "cls-v1"
# Room for a multi-label answer: every label of a 30-label codebook with an intensity fits.
MULTI_LABEL_MAX_TOKENS = 512


@dataclass(frozen=True)
class CodingTask:
    """What is asked of every text of a run."""

    codebook: Codebook
    multi_label: bool = False
    intensities: bool = False
    examples: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (text, label codes)
    seed: int = 0

    @property
    def labels(self):
        """The labels texts are coded with: the leaves of a hierarchy."""
        return self.codebook.leaves

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)


def system_prompt(task: CodingTask) -> str:
    lines = [
        "You classify texts for a research project using the codebook below.",
        "Choose the one label that fits the text best."
        if not task.multi_label
        else "Choose every label that applies to the text, in the order the codebook lists them.",
    ]
    if task.codebook.instructions:
        lines.append(task.codebook.instructions.strip())
    lines.append("")
    lines.append("Labels:")
    for label in task.labels:
        entry = f"- {label.name}"
        if label.description:
            entry += f": {label.description.strip()}"
        if label.examples:
            entry += " (for example: " + "; ".join(e.strip() for e in label.examples) + ")"
        lines.append(entry)
    lines.append("")
    if task.multi_label:
        shape = (
            '[{"label": "<label>", "intensity": "low|medium|high"}, ...]'
            if task.intensities
            else '["<label>", ...]'
        )
        lines.append(f"Answer with a JSON list only: {shape}")
    else:
        lines.append("Answer with the label only.")
    return "\n".join(lines)


def _gbnf_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _item(task: CodingTask, name: str) -> str:
    """How one label appears in a multi-label answer."""
    if task.intensities:
        return json.dumps({"label": name, "intensity": "INTENSITY"})
    return json.dumps(name)


def answer_text(task: CodingTask, codes: tuple[str, ...]) -> str:
    """The answer the grammar expects for these labels: a few-shot example's reply."""
    names = [task.codebook.label(c).name for c in codes]
    if not task.multi_label:
        return names[0]
    order = {n: i for i, n in enumerate(task.names)}
    names = sorted((n for n in names if n in order), key=order.get)
    if task.intensities:
        items = [{"label": n, "intensity": INTENSITIES[1]} for n in names]
        return json.dumps(items)
    return json.dumps(names)


def grammar(task: CodingTask) -> str:
    """The GBNF grammar every answer of the task is forced into."""
    names = task.names
    if not task.multi_label:
        return "root ::= " + " | ".join(_gbnf_literal(n) for n in names)
    rules = ['root ::= "[" (' + " | ".join(f"item{i}" for i in range(len(names))) + ') "]"']
    for i, name in enumerate(names):
        if task.intensities:
            head, tail = json.dumps({"label": name, "intensity": "X"}).split('"X"')
            label = f"{_gbnf_literal(head)} intensity {_gbnf_literal(tail)}"
        else:
            label = _gbnf_literal(json.dumps(name))
        later = " | ".join(f"item{j}" for j in range(i + 1, len(names)))
        rules.append(f"item{i} ::= {label}" + (f' (", " ({later}))?' if later else ""))
    if task.intensities:
        rules.append(
            "intensity ::= " + " | ".join(_gbnf_literal(json.dumps(v)) for v in INTENSITIES)
        )
    return "\n".join(rules)


def messages(task: CodingTask, text: str) -> list[dict[str, str]]:
    conversation = [{"role": "system", "content": system_prompt(task)}]
    for example, codes in task.examples:
        conversation.append({"role": "user", "content": f"Text: {example}"})
        conversation.append({"role": "assistant", "content": answer_text(task, codes)})
    conversation.append({"role": "user", "content": f"Text: {text}"})
    return conversation


def settings(task: CodingTask) -> SamplerSettings:
    return SamplerSettings(
        temperature=0.0,
        seed=task.seed,
        max_tokens=MULTI_LABEL_MAX_TOKENS if task.multi_label else 64,
        grammar=grammar(task),
    )


def _code_of(task: CodingTask, name: str) -> str:
    for label in task.labels:
        if label.name == name:
            return label.code
    raise GenerationFailed(f"the answer names {name!r}, which is not a label of the codebook")


def _prompt_tokens(backend: Backend, conversation: list[dict[str, str]]) -> int:
    chat_prompt = getattr(backend, "chat_prompt", None)
    return len(chat_prompt(conversation)[1]) if chat_prompt else 0


def _single(backend: Backend, task: CodingTask, conversation) -> tuple[tuple, str]:
    scores = backend.score_choices(conversation, "", task.names)
    if scores is None:
        raw = backend.chat(conversation, settings(task)).text.strip()
        return (ProposedLabel(_code_of(task, raw), None),), raw
    chosen = scores.greedy
    return (ProposedLabel(_code_of(task, chosen), scores.probabilities[chosen]),), chosen


def parse_multi(task: CodingTask, raw: str) -> list[tuple[str, str | None, int]]:
    """(name, intensity, offset of the name in raw) for each label of a multi-label answer."""
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise GenerationFailed(f"the answer is not the JSON list asked for: {raw[:80]!r}") from exc
    found, offset = [], 0
    for item in items:
        name = item["label"] if task.intensities else item
        intensity = item.get("intensity") if task.intensities else None
        # The name's opening quote; the grammar wrote each name exactly once, in order.
        offset = raw.index(json.dumps(name), offset) + 1
        found.append((name, intensity, offset))
    return found


def _item_head(task: CodingTask, name: str) -> str:
    """An item of a multi-label answer up to where its intensity goes (the whole item when
    the task has no intensities), exactly as the grammar spells it."""
    if task.intensities:
        return json.dumps({"label": name, "intensity": "X"}).split('X"')[0]
    return json.dumps(name)


def _multi_sampled(backend: Backend, task: CodingTask, conversation) -> tuple[tuple, str]:
    """For a backend without token probabilities: sample under the grammar, no confidence."""
    raw = backend.chat(conversation, settings(task)).text.strip()
    labels = tuple(
        ProposedLabel(_code_of(task, name), None, intensity)
        for name, intensity, _ in parse_multi(task, raw)
    )
    return labels, raw


def _multi(backend: Backend, task: CodingTask, conversation) -> tuple[tuple, str]:
    """The list decoded one item at a time along the items' own tokens: at each step the
    grammar allows any later label (or, after the first, the end of the list); the likeliest
    is taken, and its probability among those choices is its confidence."""
    names, raw, start = task.names, "[", 0
    labels: list[ProposedLabel] = []
    while start < len(names):
        separator = ", " if labels else ""
        options = {separator + _item_head(task, names[i]): i for i in range(start, len(names))}
        if labels:
            options["]"] = None
        scores = backend.score_choices(conversation, raw, list(options))
        if scores is None:
            return _multi_sampled(backend, task, conversation)
        chosen = options[scores.greedy]
        raw += scores.greedy
        if chosen is None:
            return tuple(labels), raw
        intensity = None
        if task.intensities:
            endings = {json.dumps(v)[1:] + "}": v for v in INTENSITIES}
            rated = backend.score_choices(conversation, raw, list(endings))
            intensity = endings[rated.greedy]
            raw += rated.greedy
        code = task.labels[chosen].code
        labels.append(ProposedLabel(code, scores.probabilities[scores.greedy], intensity))
        start = chosen + 1
    return tuple(labels), raw + "]"


def code_text(backend: Backend, task: CodingTask, text: str) -> tuple[Coding, float]:
    """The model's labels for `text` and the seconds the call took."""
    conversation = messages(task, text)
    started = time.perf_counter()
    labels, raw = (_multi if task.multi_label else _single)(backend, task, conversation)
    seconds = time.perf_counter() - started
    return Coding(labels, raw, _prompt_tokens(backend, conversation)), seconds
