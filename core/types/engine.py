"""Records of the engine layer: sampling settings, what a model file is, and one generation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidRequest
from core.types.endpoints import EndpointConfig, ServerTimings
from core.types.text import check_text


@dataclass(frozen=True)
class SamplerSettings:
    temperature: float = 0.7
    top_p: float = 0.95
    # 1.1 (llama.cpp's own CLI default) keeps very small models out of repetition loops.
    repeat_penalty: float = 1.1
    max_tokens: int = 256
    seed: int = 42
    stop: tuple[str, ...] = ()
    grammar: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 5.0:
            raise InvalidRequest(f"temperature must be between 0 and 5, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise InvalidRequest(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0.5 <= self.repeat_penalty <= 2.0:
            raise InvalidRequest(
                f"repeat_penalty must be between 0.5 and 2, got {self.repeat_penalty}"
            )
        if self.max_tokens < 1:
            raise InvalidRequest(f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.seed < 0:
            raise InvalidRequest(f"seed must be non-negative, got {self.seed}")
        for stop in self.stop:
            check_text(stop, "A stop string")
        if self.grammar:
            check_text(self.grammar, "The grammar")

    @classmethod
    def from_dict(cls, stored: dict) -> SamplerSettings:
        """From the JSON form kept in a run's configuration (stop strings come back as a list)."""
        return cls(**{**stored, "stop": tuple(stored.get("stop") or ())})


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one .gguf file, read without loading its weights."""

    name: str
    path: Path
    file_size: int
    usable: bool
    reason: str | None = None
    sha256: str | None = None
    display_name: str | None = None
    architecture: str | None = None
    size_label: str | None = None
    quantization: str | None = None
    context_length: int | None = None
    has_chat_template: bool = False
    # A base model with a LoRA adapter applied: `path` is the base file, `sha256` identifies
    # the pair (core/engine/adapters.py) and changes when either file does.
    adapter_path: Path | None = None
    adapter_sha256: str | None = None
    base_name: str | None = None
    base_sha256: str | None = None
    # A model served by an OpenAI-compatible endpoint: `path` is a placeholder that names no
    # file, and `sha256` identifies the endpoint's name and served model id.
    endpoint: EndpointConfig | None = None

    @property
    def is_adapter(self) -> bool:
        return self.adapter_path is not None

    @property
    def is_endpoint(self) -> bool:
        return self.endpoint is not None

    @property
    def leaves_machine(self) -> bool:
        """Prompts sent to this model go to another machine."""
        return self.endpoint is not None and self.endpoint.leaves_machine


@dataclass(frozen=True)
class SkippedPath:
    """A path in the models folder that is not a model file, and why it is not listed as one
    (a README, a subfolder, a half-written copy); shown so that nothing there goes unexplained.
    `name` is the entry's name as it can be printed (bytes that are not UTF-8 replaced)."""

    path: Path
    name: str
    reason: str


@dataclass(frozen=True)
class Generation:
    """One completed generation and how it was produced."""

    text: str
    finish_reason: str
    prompt: str | list[dict[str, str]]
    prompt_tokens: int
    prompt_tokens_evaluated: int
    completion_tokens: int
    ttft_s: float
    total_s: float
    gen_tokens_per_s: float | None
    peak_rss_mb: float
    settings: SamplerSettings
    model_name: str
    model_sha256: str
    llama_cpp_version: str
    prompt_format: str = "completion"
    # Resident memory this model added to the process: RSS growth from just before loading to
    # just after a one-token warm-up (weights paged in, KV cache and buffers allocated).
    model_memory_mb: float | None = None
    # Set when an endpoint produced the text: its name, the URL that answered, what the server
    # said it is (e.g. "uvicorn; owned_by=me") and the timings it reported, if any.
    endpoint: str | None = None
    endpoint_url: str | None = None
    server: str | None = None
    server_timings: ServerTimings | None = None

    @property
    def prompt_tokens_reused(self) -> int:
        return self.prompt_tokens - self.prompt_tokens_evaluated


@dataclass(frozen=True)
class ChoiceScores:
    """A model's answer among a few fixed choices (ratings, verdicts) and its distribution
    over them. `greedy` is what a temperature-0 sampler writes when the reply is spelled in
    the model's own tokens."""

    probabilities: dict[str, float]
    greedy: str


@dataclass(frozen=True)
class TokenAlternative:
    """One of the model's likeliest next tokens at a position."""

    token_id: int
    text: str
    logprob: float

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)


@dataclass(frozen=True)
class TokenScore:
    """One continuation token under teacher forcing: how likely the model found it given
    everything before it. rank 1 is the model's top choice; tokens as likely as others share
    the best rank among them. entropy is of the whole next-token distribution, in nats."""

    token_id: int
    text: str
    logprob: float
    rank: int
    entropy: float
    top: tuple[TokenAlternative, ...]

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)


@dataclass(frozen=True)
class TextScore:
    """A continuation scored token by token after a context. Context and continuation are
    tokenised separately (as lm-evaluation-harness does), so `tokens` are exactly the
    continuation's tokens and never a token straddling the boundary."""

    model_name: str
    context: str
    continuation: str
    context_tokens: int  # BOS included when the model's GGUF asks for one
    tokens: tuple[TokenScore, ...]
    seconds: float = 0.0  # wall time of the evaluation (tokenising and reduction included)

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def n_bytes(self) -> int:
        return len(self.continuation.encode("utf-8"))

    @property
    def total_logprob(self) -> float:
        """Natural log of P(continuation | context)."""
        return math.fsum(t.logprob for t in self.tokens)

    @property
    def cross_entropy(self) -> float:
        """Nats per token; depends on the tokeniser, so compare models by bits_per_byte."""
        return -self.total_logprob / self.n_tokens

    @property
    def perplexity(self) -> float:
        return math.exp(self.cross_entropy)

    @property
    def bits_per_byte(self) -> float:
        """Bits to encode the continuation's UTF-8 bytes with this model: comparable across
        tokenisers, since every model encodes the same bytes."""
        return -self.total_logprob / math.log(2) / self.n_bytes


@dataclass(frozen=True)
class CorpusPerplexity:
    """A text's perplexity by llama.cpp's method (core/engine/perplexity.py): n_ctx-token
    chunks, the second half of each scored."""

    model_name: str
    n_ctx: int
    text_tokens: int  # the whole text; a remainder shorter than a chunk is not scored
    chunks: int
    tokens_scored: int
    perplexity: float
    uncertainty: float  # llama-perplexity's "+/-": PPL * sqrt(var(nll) / (n - 1))
    chunk_perplexities: tuple[float, ...]  # running estimate after each chunk, as [i] lines
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float | None:
        evaluated = self.chunks * self.n_ctx
        return evaluated / self.seconds if self.seconds > 0 else None
