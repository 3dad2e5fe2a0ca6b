"""HTTP to OpenAI-compatible servers on the standard library: keep-alive connections reused
per thread and URL, server-sent events read into one reply, and every failure sorted into
`Transient` (worth retrying: unreachable, timed out, overloaded, cut off) or `Rejected`
(retrying the same request cannot help). The backend (core/engine/endpoint.py) turns these
into the domain's EndpointUnavailable, EndpointRejected and EndpointRefusedRequest."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

RETRY_AFTER_CAP_S = 60.0
BODY_EXCERPT = 200


class Transient(Exception):
    """A failure worth retrying. `unreachable`: no server answered at that URL (another
    replica should get the retry); `retry_after`: the seconds the server asked us to wait;
    `silent`: the server accepted a stream and ended it without sending a single event."""

    def __init__(
        self,
        reason: str,
        unreachable: bool = False,
        retry_after: float | None = None,
        silent: bool = False,
    ):
        super().__init__(reason)
        self.reason, self.unreachable, self.retry_after = reason, unreachable, retry_after
        self.silent = silent


# Statuses that refuse this one request as sent (malformed, too large, too long for the
# model's context): other requests may still be served.
REQUEST_REFUSALS = frozenset({400, 413, 422})


class Rejected(Exception):
    """The server answered and refused the request, or answered something that is not an
    OpenAI-compatible reply. `status`: the HTTP status (or an error event's code) it refused
    with, None when it answered something unusable."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason, self.status = reason, status

    @property
    def request_only(self) -> bool:
        """This request alone was refused; the endpoint itself is set up to serve."""
        return self.status in REQUEST_REFUSALS


@dataclass
class Reply:
    """One streamed (or, from a server that ignores `stream`, whole) reply. `pieces` counts
    the chunks that carried text; `first_piece_at` is perf_counter() when the first came."""

    server: str = ""  # the HTTP Server header
    model: str = ""  # the model id the reply names
    fingerprint: str = ""
    text_parts: list[str] = field(default_factory=list)
    pieces: int = 0
    first_piece_at: float | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds to wait, capped at a
    minute so a server cannot park a run; None when absent or unreadable."""
    if not header:
        return None
    header = header.strip()
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


def server_message(body: bytes) -> str:
    """The error message a server put in its body: OpenAI's {"error": {"message": ...}},
    FastAPI's {"detail": ...}, or the first characters of whatever it sent."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed.get("detail"))
        if isinstance(error, dict) and error.get("message"):
            text = str(error["message"])
        elif isinstance(error, str | list):
            text = error if isinstance(error, str) else json.dumps(error)
    text = " ".join(text.split())
    return (text[:BODY_EXCERPT] + "…") if len(text) > BODY_EXCERPT else (text or "(no body)")


class Connections:
    """One keep-alive connection per (thread, base URL): a thread's requests to a server reuse
    its connection, and threads never share one (http.client connections are not
    thread-safe). Connections of threads that have ended are closed when a new one opens."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._open: dict[tuple[int, str], http.client.HTTPConnection] = {}

    def get(self, base_url: str) -> tuple[http.client.HTTPConnection, bool]:
        """The connection and whether it has served a request before (so may have gone stale)."""
        key = (threading.get_ident(), base_url)
        with self._lock:
            conn = self._open.get(key)
        if conn is not None and conn.sock is not None:
            return conn, True
        parts = urlsplit(base_url)
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = kind(parts.hostname, parts.port, timeout=self.timeout_s)
        alive = {t.ident for t in threading.enumerate()}
        with self._lock:
            self._open[key] = conn
            ended = [k for k in self._open if k[0] not in alive]
            orphans = [self._open.pop(k) for k in ended]
        for orphan in orphans:
            orphan.close()
        return conn, False

    def drop(self, base_url: str) -> None:
        with self._lock:
            conn = self._open.pop((threading.get_ident(), base_url), None)
        if conn is not None:
            conn.close()

    def close_all(self) -> None:
        with self._lock:
            conns, self._open = list(self._open.values()), {}
        for conn in conns:
            conn.close()


def _path(base_url: str, path: str) -> str:
    return urlsplit(base_url).path.rstrip("/") + path


def _network_failure(exc: BaseException, base_url: str, timeout_s: float) -> Exception:
    host = urlsplit(base_url).hostname
    if isinstance(exc, socket.gaierror):
        return Transient(f"cannot resolve host {host} ({exc.strerror})", unreachable=True)
    if isinstance(exc, ConnectionRefusedError):
        return Transient("connection refused", unreachable=True)
    if isinstance(exc, TimeoutError):
        return Transient(f"no answer within {timeout_s:g} s", unreachable=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Rejected(f"TLS certificate not trusted: {exc.verify_message}")
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError):
        return Transient("the server closed the connection without answering", unreachable=True)
    detail = getattr(exc, "strerror", None) or type(exc).__name__
    return Transient(f"network error: {detail}", unreachable=True)


def send(
    connections: Connections,
    base_url: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> http.client.HTTPResponse:
    """Sends one request and returns the response if its status is 200 (its body unread);
    any other status is read and raised as Transient or Rejected. A kept-alive connection
    the server has meanwhile closed (servers close idle ones routinely) is replaced once,
    silently, before the failure counts."""
    payload = json.dumps(body).encode("utf-8") if body is not None else None
    for fresh_try in (False, True):
        conn, reused = connections.get(base_url)
        try:
            conn.request(method, _path(base_url, path), body=payload, headers=headers)
            response = conn.getresponse()
            break
        except (OSError, http.client.HTTPException) as exc:
            connections.drop(base_url)
            stale = isinstance(
                exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError
            )
            if reused and stale and not fresh_try:
                continue
            raise _network_failure(exc, base_url, connections.timeout_s) from None
    if response.status == 200:
        return response
    try:
        raw = response.read(64 * 1024)
    except (OSError, http.client.HTTPException):
        raw = b""
    connections.drop(base_url)
    reason = f"HTTP {response.status}: {server_message(raw)}"
    if response.status == 429:
        raise Transient(reason, retry_after=retry_after_seconds(response.getheader("Retry-After")))
    if response.status >= 500 or response.status == 408:
        raise Transient(reason)
    if 300 <= response.status < 400:
        where = response.getheader("Location") or "elsewhere"
        raise Rejected(f"HTTP {response.status}: redirected to {where}; configure that URL")
    raise Rejected(reason, response.status)


def get_json(
    connections: Connections, base_url: str, path: str, headers: dict[str, str]
) -> tuple[Any, str]:
    """GET a JSON document (e.g. /models): the document and the HTTP Server header."""
    response = send(connections, base_url, "GET", path, None, headers)
    try:
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        connections.drop(base_url)
        raise _network_failure(exc, base_url, connections.timeout_s) from None
    try:
        return json.loads(raw), (response.getheader("Server") or "").strip()
    except ValueError:
        raise Rejected(f"{path} answered something that is not JSON") from None


def stream(
    connections: Connections,
    base_url: str,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    on_piece: Callable[[str], None] | None,
) -> Reply:
    """POSTs a streaming request and reads its events into a Reply, passing each text piece
    to on_piece as it comes. The reply is complete only when the server gave a finish reason;
    `[DONE]` without one (llama_cpp.server does that when a newer request interrupts the
    running one), a stream that stops early, or an event that is not JSON is Transient; a
    stream ended before its first event is a `silent` one."""
    response = send(connections, base_url, "POST", path, body, headers)
    reply = Reply(server=(response.getheader("Server") or "").strip())
    events = 0
    try:
        kind = (response.getheader("Content-Type") or "").split(";")[0].strip()
        if kind == "application/json":
            _absorb(reply, _event(response.read()), on_piece)
        else:
            for data in _events(response):
                events += 1
                if data == "[DONE]":
                    break
                _absorb(reply, _event(data.encode("utf-8")), on_piece)
    except BaseException as exc:
        connections.drop(base_url)  # mid-body: the connection cannot be reused
        if isinstance(exc, OSError | http.client.HTTPException):
            raise _cut(exc, connections.timeout_s) from None
        raise
    if reply.finish_reason is None and kind != "application/json" and events == 0:
        connections.drop(base_url)
        raise Transient("the server ended the stream without sending anything", silent=True)
    if reply.finish_reason is None:
        connections.drop(base_url)
        raise Transient("the stream ended before the reply finished (no finish reason)")
    try:
        response.read()  # the rest of the body, so the connection can serve the next request
    except (OSError, http.client.HTTPException):
        connections.drop(base_url)  # the reply is whole; only the connection is lost
    return reply


def _cut(exc: BaseException, timeout_s: float) -> Transient:
    if isinstance(exc, TimeoutError):
        return Transient(f"the stream stalled for more than {timeout_s:g} s")
    return Transient("the stream was cut off before the reply finished")


def _events(response: http.client.HTTPResponse):
    """The `data` of each server-sent event (comments, ids and event names skipped)."""
    lines: list[str] = []
    while True:
        raw = response.readline()
        if not raw:
            return
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if line == "":
            if lines:
                yield "\n".join(lines)
                lines = []
        elif line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))


def _event(raw: bytes) -> dict[str, Any]:
    try:
        event = json.loads(raw)
    except ValueError:
        excerpt = raw[:80].decode("utf-8", errors="replace")
        raise Transient(f"malformed JSON in the reply: {excerpt!r}") from None
    if not isinstance(event, dict):
        raise Transient("malformed reply: an event that is not a JSON object")
    error = event.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        code = error.get("code") if isinstance(error, dict) else None
        reason = f"the server reported an error mid-reply: {message}"
        if isinstance(code, int) and 400 <= code < 500 and code != 429:
            raise Rejected(reason, code)
        raise Transient(reason)
    return event


def _absorb(reply: Reply, event: dict[str, Any], on_piece: Callable[[str], None] | None) -> None:
    reply.model = str(event.get("model") or reply.model)
    reply.fingerprint = str(event.get("system_fingerprint") or reply.fingerprint)
    if isinstance(event.get("usage"), dict):
        reply.usage = event["usage"]
    if isinstance(event.get("timings"), dict):
        reply.timings = event["timings"]
    choices = event.get("choices")
    if choices is None and "usage" not in event and "timings" not in event:
        raise Rejected("not an OpenAI-compatible reply: an event without choices")
    for choice in choices or ():
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        message = choice.get("delta") or choice.get("message") or {}
        piece = choice.get("text") if "text" in choice else message.get("content")
        if piece:
            if reply.first_piece_at is None:
                reply.first_piece_at = time.perf_counter()
            reply.text_parts.append(piece)
            reply.pieces += 1
            if on_piece is not None:
                on_piece(piece)
        if choice.get("finish_reason"):
            reply.finish_reason = str(choice["finish_reason"])
