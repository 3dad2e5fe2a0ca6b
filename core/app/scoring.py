"""Use case: how likely a model finds a given text after a context, token by token."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from core.app import context
from core.engine import Backend
from core.engine.registry import require_local_file, resolve
from core.errors import InvalidRequest
from core.types import CorpusPerplexity, TextScore
from core.types.text import check_text


def local_backend(model: str, action: str) -> Backend:
    """`model` (a file stem or unique prefix) loaded, refused when an endpoint serves it: the
    token probabilities `action` needs come from the model file itself."""
    cfg = context.settings()
    info = resolve(model, context.list_models(cfg))
    require_local_file(info, action)
    return context.open_backend(info, cfg)


def score_text(model: str, context_text: str, continuation: str, top_k: int = 5) -> TextScore:
    """Loads `model` (a file stem or unique prefix) and scores `continuation` after
    `context_text`. Nothing is stored: a score is cheap to recompute and has no run to join."""
    check_text(context_text, "The context")
    check_text(continuation, "The text to score")
    backend = local_backend(model, "scoring tokens")
    scorer = getattr(backend, "score_text", None)
    score = scorer(context_text, continuation, top_k) if scorer else None
    if score is None:
        raise InvalidRequest(f"{backend.info.name}'s backend exposes no token probabilities.")
    return score


def score_answer(
    backend: Backend, prompt: str | list[dict[str, str]], answer: str, top_k: int = 5
) -> TextScore:
    """`answer` scored token by token after exactly what the model saw before writing it:
    a conversation (a chat Generation's prompt) as the model's chat template formats it, or
    a raw completion prompt as given. Also scores a pasted reference under the same prompt."""
    require_local_file(backend.info, "scoring tokens")
    if not answer.strip():
        raise InvalidRequest("The answer is empty; there are no tokens to show.")
    if isinstance(prompt, str):
        scorer, args = getattr(backend, "score_text", None), (prompt, answer, top_k)
    else:
        scorer, args = getattr(backend, "score_reply", None), (list(prompt), answer, top_k)
    score = scorer(*args) if scorer else None
    if score is None:
        raise InvalidRequest(f"{backend.info.name}'s backend exposes no token probabilities.")
    return score


def score_chat_reply(model: str, message: str, reply: str, top_k: int = 5) -> TextScore:
    """`reply` as `model`'s answer to the user `message`, after the prompt `perfics generate`
    (and the Models page) would give it: the message under the model's chat template."""
    check_text(reply, "The text to score")
    return score_answer(
        local_backend(model, "scoring tokens"), [{"role": "user", "content": message}], reply, top_k
    )


def prompt_before_answer(prompt: str | list[dict[str, str]]) -> str | list[dict[str, str]]:
    """The prompt a stored step was generated from. Steps stored before the backends copied
    the conversation hold it as it was when the step was saved, with the step's own answer
    already appended; a prompt never ends with an assistant turn, so that one is dropped."""
    if isinstance(prompt, list) and prompt and prompt[-1].get("role") == "assistant":
        return prompt[:-1]
    return prompt


def score_step(backend: Backend, run_id: str, step: int, top_k: int = 5) -> TextScore:
    """One stored refinement step (its kept text) scored under the prompt it was given."""
    try:
        prompt, text = context.store().generations.step_input(run_id, step)
    except KeyError:
        raise InvalidRequest(f"Run {run_id} has no step {step}.") from None
    return score_answer(backend, prompt_before_answer(prompt), text, top_k)


def score_to_json(score: TextScore) -> dict:
    """The record with its totals, which are properties and so absent from asdict."""
    return {
        **asdict(score),
        "n_tokens": score.n_tokens,
        "n_bytes": score.n_bytes,
        "total_logprob": score.total_logprob,
        "cross_entropy": score.cross_entropy,
        "perplexity": score.perplexity,
        "bits_per_byte": score.bits_per_byte,
    }


def read_text(path: Path) -> str:
    """A UTF-8 text file for scoring, with a clear error rather than a traceback."""
    try:
        return path.read_text(encoding="utf-8-sig")  # a BOM from Windows editors is not text
    except FileNotFoundError:
        raise InvalidRequest(f"No such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"{path} is not UTF-8 text (byte {exc.start}).") from None
    except OSError as exc:
        raise InvalidRequest(f"Cannot read {path}: {exc.strerror}") from None


def corpus_perplexity(model: str, text: str, n_ctx: int = 512, on_chunk=None) -> CorpusPerplexity:
    """`model`'s perplexity on `text` by llama-perplexity's method, for comparison with it."""
    backend = local_backend(model, "perplexity")
    scorer = getattr(backend, "corpus_perplexity", None)
    if scorer is None:
        raise InvalidRequest(f"{backend.info.name}'s backend exposes no token probabilities.")
    return scorer(text, n_ctx, on_chunk)
