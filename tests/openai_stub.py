"""A small real OpenAI-compatible HTTP server on 127.0.0.1 for logic tests of the endpoint
backend and what runs on it: /v1/models, /v1/chat/completions and /v1/completions, streamed
(server-sent events, chunked, keep-alive) or not, with deterministic replies, llama.cpp-style
`timings` if asked, a delay per token, and faults queued for the next requests.

Replies are the prompt's last words echoed ("Echo: ..."), one word per token, cut at
max_tokens (finish "length") or at a stop string; under a grammar of fixed choices, one of
the choices picked by a hash of the prompt (so a judge can run on it).

Faults, taken one per request in order (stub.fail("500", "429:2", ...)):
  "refuse"     close the connection without answering
  "NNN"        answer HTTP NNN with an OpenAI error body (e.g. "500", "503", "400", "404")
  "429:X"      HTTP 429 with Retry-After: X (seconds or an HTTP date)
  "truncate"   stream half the reply, then end the body without a finish reason or [DONE]
  "cut"        stream half the reply, then drop the connection mid-body
  "malformed"  a chunk that is not JSON
  "interrupt"  stream half the reply, then [DONE] without a finish reason (llama_cpp.server
               does that to a running request when another arrives)
  "leak401"    HTTP 401 whose message repeats the request's Authorization header
  "stall:S"    wait S seconds before answering (to trip a client's timeout)
  "silent"     start an event stream and end it without any event (llama_cpp.server does
               that to a streamed prompt longer than its context)
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from core.engine.grammar_choices import choices as grammar_choices


@dataclass(frozen=True)
class StubRequest:
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]
    client_port: int  # the same port for requests on one kept-alive connection


def reply_words(prompt: str, grammar: str | None = None) -> list[str]:
    """The stub's whole reply to a prompt, as tokens (before max_tokens and stop strings)."""
    allowed = grammar_choices(grammar) if grammar else None
    if allowed:
        digest = hashlib.sha256(prompt.encode()).hexdigest()
        return [allowed[int(digest, 16) % len(allowed)]]
    return ["Echo:", *prompt.split()[-12:]]


def prompt_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        return "\n".join(f"{m.get('role')}: {m.get('content')}" for m in body["messages"])
    return str(body.get("prompt", ""))


class OpenAIStub:
    """start() serves on 127.0.0.1 (a free port the first time, the same port after stop());
    `url` is the base URL up to /v1. Attributes may be changed between requests."""

    def __init__(
        self,
        model: str = "stub-model",
        delay_s: float = 0.0,
        timings: bool = False,
        usage: bool = True,
        stream: bool = True,
        server_name: str = "openai-stub/1.0",
    ):
        self.model, self.delay_s, self.timings, self.usage = model, delay_s, timings, usage
        self.stream = stream  # False: answer whole JSON even when asked to stream
        self.server_name = server_name
        self.requests: list[StubRequest] = []
        self.faults: deque[str] = deque()
        self.in_flight = 0
        self.max_in_flight = 0
        self.port: int | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._cached_words: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail(self, *faults: str) -> None:
        with self._lock:
            self.faults.extend(faults)

    def generation_requests(self) -> list[StubRequest]:
        return [r for r in self.requests if r.path.endswith("completions")]

    def start(self) -> OpenAIStub:
        stub = self

        class Handler(_Handler):
            owner = stub
            server_version = stub.server_name

        server = _QuietServer(("127.0.0.1", self.port or 0), Handler, bind_and_activate=False)
        server.server_bind()
        server.server_activate()
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """The server goes away: the port stops listening and open connections are dropped."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._server = self._thread = None

    # Bookkeeping used by the handler.

    def _enter(self, sock: socket.socket, request: StubRequest) -> str | None:
        with self._lock:
            self._sockets.add(sock)
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.faults.popleft() if self.faults else None

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _reused_prefix(self, words: list[str]) -> int:
        """Like llama.cpp's prompt cache: the words shared with the previous prompt's start."""
        with self._lock:
            shared = 0
            for a, b in zip(self._cached_words, words, strict=False):
                if a != b:
                    break
                shared += 1
            self._cached_words = words
            return shared


class _QuietServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hung up or a stop() mid-request is what the tests do on purpose


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIStub
    protocol_version = "HTTP/1.1"  # keep-alive, chunked streams
    disable_nagle_algorithm = True  # as real servers: each event leaves at once

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        self._serve(body)

    def _serve(self, body: dict[str, Any] | None) -> None:
        stub = self.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = StubRequest(self.path, body, headers, self.client_address[1])
        fault = stub._enter(self.connection, request)
        try:
            self._answer(body, fault)
        finally:
            stub._leave()

    def _answer(self, body: dict[str, Any] | None, fault: str | None) -> None:
        kind, _, arg = (fault or "").partition(":")
        if kind == "stall":
            time.sleep(float(arg))
        elif kind == "refuse":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        elif kind == "leak401":
            leaked = self.headers.get("Authorization", "")
            return self._error(401, f"invalid credentials: {leaked}")
        elif kind == "429":
            return self._error(429, "Too many requests", {"Retry-After": arg})
        elif kind.isdigit():
            return self._error(int(kind), f"stub fault {kind}: the request cannot be served")
        if self.path == "/v1/models":
            listing = {"object": "list", "data": [{"id": self.owner.model, "object": "model"}]}
            return self._json(200, listing)
        if self.path not in ("/v1/chat/completions", "/v1/completions") or body is None:
            return self._error(404, f"no route {self.path}")
        self._generate(body, kind)

    def _generate(self, body: dict[str, Any], fault: str) -> None:
        stub, chat = self.owner, "messages" in body
        if fault == "silent":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(b"")
            return
        prompt = prompt_text(body)
        prompt_words = prompt.split()
        words = reply_words(prompt, body.get("grammar"))
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        pieces, finish = _cut(pieces, int(body.get("max_tokens") or 16), body.get("stop") or [])
        cached = stub._reused_prefix(prompt_words)
        usage = {
            "prompt_tokens": len(prompt_words),
            "completion_tokens": len(pieces),
            "total_tokens": len(prompt_words) + len(pieces),
        }
        timings = {
            "prompt_n": len(prompt_words) - cached,
            "cache_n": cached,
            "prompt_ms": 1.0,
            "prompt_per_second": 1000.0 * max(len(prompt_words) - cached, 1),
            "predicted_n": len(pieces),
            "predicted_ms": 2.0,
            "predicted_per_second": 500.0 * len(pieces),
        }
        base = {
            "id": "stub-1",
            "model": stub.model,
            "created": 0,
            "system_fingerprint": "stub-fp",
            "object": "chat.completion.chunk" if chat else "text_completion",
        }
        if not body.get("stream") or not stub.stream:
            text = "".join(pieces)
            choice = {"index": 0, "finish_reason": finish}
            choice.update(
                {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
            )
            whole = {**base, "choices": [choice], "usage": usage}
            if stub.timings:
                whole["timings"] = timings
            return self._json(200, whole)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if fault in ("truncate", "cut", "malformed", "interrupt"):
            pieces = pieces[: max(1, len(pieces) // 2)]
        for piece in pieces:
            time.sleep(stub.delay_s)
            content = {"delta": {"content": piece}} if chat else {"text": piece}
            self._event({**base, "choices": [{"index": 0, "finish_reason": None, **content}]})
        if fault == "malformed":
            self._chunk(b'data: {"choices": [{"index": 0, "delta": \n\n')
        if fault == "cut":
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "interrupt":
            self._chunk(b"data: [DONE]\n\n")
        elif fault not in ("truncate", "malformed"):
            last = {"delta": {}} if chat else {"text": ""}
            final = {**base, "choices": [{"index": 0, "finish_reason": finish, **last}]}
            if stub.timings:
                final["timings"] = timings
            self._event(final)
            if stub.usage and (body.get("stream_options") or {}).get("include_usage"):
                self._event({**base, "choices": [], "usage": usage})
            self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")  # the end of a chunked body

    def _event(self, event: dict[str, Any]) -> None:
        self._chunk(b"data: " + json.dumps(event).encode() + b"\n\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        error = {"error": {"message": message, "type": "stub_error", "code": status}}
        self._json(status, error, headers)


def _cut(pieces: list[str], max_tokens: int, stop: list[str]) -> tuple[list[str], str]:
    """The pieces a server would send: up to a stop string (excluded) or max_tokens."""
    text = "".join(pieces)
    at = min((text.find(s) for s in stop if s and s in text), default=-1)
    if at != -1:
        kept, used = [], 0
        for piece in pieces:
            if used + len(piece) > at:
                if at > used:
                    kept.append(piece[: at - used])
                break
            kept.append(piece)
            used += len(piece)
        pieces = kept
    if len(pieces) > max_tokens:
        return pieces[:max_tokens], "length"
    return pieces, "stop"
