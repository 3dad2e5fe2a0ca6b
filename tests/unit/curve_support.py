"""What the learning-curve tests share: three fruit labels whose texts each carry their label's
keyword (tests/unit/test_probe.py's data), a fake model that learns from its few-shot
examples, and a store holding them."""

from __future__ import annotations

from core.engine.fake import FAKE_INFO, FakeBackend
from core.types.curves import CurveMethod, CurveSpec
from core.types.learning import LabelSource
from tests.unit.test_probe import BOOK, _texts

FIRST_LABEL = "Apples"  # what the fake model answers when no example helps


def fill(store, per_label: int = 20) -> None:
    """Dataset and codebook "fruit": per_label texts of each of three labels (gold)."""
    store.init()
    store.datasets.save("fruit", "memory", _texts(per_label))
    store.codebooks.save(BOOK, "memory")


def example_learner(info=FAKE_INFO, cfg=None, seen: list | None = None) -> FakeBackend:
    """A fake model that labels a text as the first few-shot example sharing its first word
    (the label's keyword), else with FIRST_LABEL: zero-shot it is right on a third of the
    texts, and more examples help. `seen` collects each prompt's example texts' keywords."""

    def respond(prompt: str) -> str:
        *_, asked = prompt.split("Text: ")
        examples = prompt.split("Text: ")[1:-1]
        if seen is not None:
            seen.append(tuple(e.split()[0] for e in examples))
        for shown in examples:
            text, _, answer = shown.partition("\n\nAssistant: ")
            if text.split()[0] == asked.split()[0]:
                return answer.split("\n\n")[0].strip()
        return FIRST_LABEL

    return FakeBackend(info=info, responder=respond)


def spec(**changes) -> CurveSpec:
    base = dict(
        dataset="fruit",
        codebook="fruit",
        models=(FAKE_INFO,),
        methods=(CurveMethod.KSHOT, CurveMethod.PROBE),
        sizes=(0, 2, 8, 100),
        repeats=3,
        shots=2,
        source=LabelSource.GOLD,
        held_out=12,
    )
    return CurveSpec(**{**base, **changes})
