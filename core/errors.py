"""Domain errors. Pages show them with st.error; the CLI prints them and exits non-zero."""


class PerficsError(Exception):
    """Base class: every error a user can cause or fix."""


class ModelNotFound(PerficsError):
    def __init__(self, name: str, available: list[str]):
        self.name = name
        self.available = available
        listing = (
            ", ".join(available) if available else "none (put .gguf files in the models folder)"
        )
        super().__init__(f"No usable model matches {name!r}. Available models: {listing}")


class AmbiguousModel(PerficsError):
    def __init__(self, name: str, matches: list[str]):
        self.name = name
        self.matches = matches
        super().__init__(
            f"{name!r} matches several models: {', '.join(matches)}. Be more specific."
        )


class UnusableModel(PerficsError):
    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"Model file {path} is unusable: {reason}")


class InvalidRequest(PerficsError):
    """A generation request that can never succeed as given (empty prompt, bad settings)."""


class PromptTooLong(InvalidRequest):
    def __init__(self, prompt_tokens: int, context_length: int):
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length
        super().__init__(
            f"The prompt is {prompt_tokens} tokens but the model's context holds {context_length}; "
            "shorten the prompt or load the model with a larger context (PERFICS_N_CTX)."
        )


class GenerationFailed(PerficsError):
    """The backend failed while generating."""


class StoreError(PerficsError):
    """The results database cannot be opened, written or read."""


class StoreLocked(StoreError):
    """Another process holds the database's write lock for longer than we are willing to wait."""


class StoreReadOnly(StoreError):
    """The database can be read but not written: a read-only file system, no permission, or
    a schema that would need upgrading there. Listings, results and exports still work."""


class StoreFull(StoreError):
    """The disk holding the database is full (or the file reached its size limit): the last
    change was not stored, everything finished before it is kept."""


class SchemaTooNew(StoreError):
    """The database was written by a newer PeRFICS Studio; this build would misread it."""

    def __init__(self, path: str, found: int, known: int):
        self.path, self.found, self.known = path, found, known
        super().__init__(
            f"The database {path} was written by a newer PeRFICS Studio (schema version "
            f"{found}); this build knows up to {known}. Upgrade PeRFICS Studio, or point "
            "PERFICS_DB at another file."
        )


class OutputFileError(PerficsError):
    """A file the user asked for (an export) cannot be written where they asked."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"Cannot write {path}: {reason}")


class InvalidLabels(PerficsError):
    """Label sets that statistics cannot use as given: a code outside the codebook, several
    labels where one is expected, an unknown coder, a cycle in a label hierarchy."""


TRAIN_EXTRA_INSTALL = "pip install -e '.[train]'"


class TrainingUnavailable(PerficsError):
    """LoRA fine-tuning needs the optional [train] packages (torch, transformers, peft, gguf,
    safetensors), which the dashboard and the CLI do without until someone trains."""

    def __init__(self, missing: str):
        self.missing = missing
        super().__init__(
            f"LoRA fine-tuning needs the optional training packages, and {missing} is not "
            f"installed. Add them with: {TRAIN_EXTRA_INSTALL}"
        )


class EndpointError(PerficsError):
    """An OpenAI-compatible endpoint refused or failed a request. `transient` errors (the
    server unreachable, timing out, overloaded, or cutting a stream) were retried with backoff
    before being raised. A run that meets any of them stops resumable rather than failing its
    item, except EndpointRefusedRequest: that one request cannot be served, the others can."""

    transient = False

    def __init__(self, endpoint: str, url: str, reason: str):
        self.endpoint, self.url, self.reason = endpoint, url, reason
        super().__init__(f"Endpoint {endpoint} ({url}): {reason}")


class EndpointUnavailable(EndpointError):
    """Unreachable, timed out, overloaded (429, 5xx) or cut off, after every retry."""

    transient = True


class EndpointRejected(EndpointError):
    """The endpoint is not set up to serve us: the API key's variable unset, HTTP 401 or 403,
    404 (an unknown model or a wrong URL), a redirect, an untrusted certificate, or a reply
    that is not an OpenAI-compatible one. Retrying cannot help until the user fixes the
    endpoint, and every request would meet it: a run stops resumable."""


class EndpointRefusedRequest(EndpointRejected):
    """The server refused this one request (HTTP 400, 413 or 422: a prompt too long for its
    context, say): the run fails that item and goes on."""
