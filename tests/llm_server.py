"""A scripted OpenAI-compatible chat-completions server on loopback, for tests and the bench.

It speaks the subset of `POST /v1/chat/completions` the LLM extractor uses: `n` choices, a
`usage` block, status codes, Retry-After, delays; and `GET /v1/models` (`models`, or
`models_status`) and `GET /health` (`health_status`) for the preflight. `stop()` then `start()`
serves again on the same port (an outage and a recovery). Replies come from a script (a queue of
`Reply`, consumed in order) and, once it is empty, from a responder function of the request.
Every request is recorded (`server.requests`) so tests can assert what the client sent.

    with ScriptedServer(latency=0.2) as server:
        server.push(Reply(status=429), Reply(contents=[answer(triple("A", "outperforms", "B"))]))
        ... LLMExtractor(urls=[server.url], ...) ...

Run as a script (`python tests/llm_server.py --latency 0.2`) it serves the pattern responder
in its own process and prints its base URL on the first line of stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa

_ABSTRACT = re.compile(r"<abstract>\n(.*)\n</abstract>", re.DOTALL)
_OUTPERFORMS = re.compile(r"\b([A-Z][\w-]*) outperforms ([A-Z][\w-]*)(?: on ([A-Z][\w-]*))?")


def triple(
    subject: str,
    relation: str,
    obj: str,
    context: Iterable[tuple[str, str]] = (),
    subject_type: str = "Method",
    object_type: str = "Method",
) -> dict[str, Any]:
    """One triple as the model writes it."""
    return {
        "subject": subject,
        "subject_type": subject_type,
        "relation": relation,
        "object": obj,
        "object_type": object_type,
        "context": [{"qualifier": q, "text": t} for q, t in context],
    }


def answer(*triples: dict[str, Any]) -> str:
    """One sample's content: the JSON answer with these triples."""
    return json.dumps({"triples": list(triples)})


def with_counts(n: int, counts: Mapping[str, int], triples: Mapping[str, dict]) -> list[str]:
    """n sample contents in which triple `name` appears in exactly `counts[name]` samples."""
    return [
        answer(*(triples[name] for name, c in counts.items() if j < c)) for j in range(n)
    ]


def documents(*abstracts: str, prefix: str = "doc") -> pa.Table:
    """A documents table (doc_id, content_hash, title, abstract) for these abstracts."""
    return pa.table(
        {
            "doc_id": [f"{prefix}:{i}" for i in range(len(abstracts))],
            "content_hash": [hashlib.sha256(a.encode()).hexdigest() for a in abstracts],
            "title": [f"title {i}" for i in range(len(abstracts))],
            "abstract": list(abstracts),
        }
    )


def abstract_of(body: Mapping[str, Any]) -> str:
    """The abstract the client delimited in its user message ('' if none)."""
    for message in body.get("messages", []):
        if message.get("role") == "user":
            m = _ABSTRACT.search(message.get("content") or "")
            if m:
                return m.group(1)
    return ""


@dataclass
class Reply:
    """One scripted reply.

    `contents` are the choices' message contents; fewer than the request's `n` are repeated
    cyclically to make `n`, unless `exact` (a server that ignores `n`). A callable gets `n`.
    `raw_body` replaces the whole JSON body. `delay` is added to the server's latency.
    """

    contents: list[str | None] | Callable[[int], list[str | None]] | None = None
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: str | None = None
    finish_reason: str = "stop"
    exact: bool = False


@dataclass
class RecordedRequest:
    """What the client sent."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


def empty_responder(body: Mapping[str, Any]) -> Reply:
    """Answer every request with no triples."""
    return Reply(contents=[answer()])


def pattern_responder(body: Mapping[str, Any]) -> Reply:
    """A stand-in model: every "X outperforms Y (on Z)" of the abstract, in every sample."""
    triples = [
        triple(s, "outperforms", o, [("dataset", d)] if d else [])
        for s, o, d in _OUTPERFORMS.findall(abstract_of(body))
    ]
    return Reply(contents=[answer(*triples)])


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default (5) drops bursts of new connections
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False


class ScriptedServer:
    """A ThreadingHTTPServer on 127.0.0.1 (port 0) in a background thread."""

    def __init__(
        self,
        latency: float = 0.0,
        responder: Callable[[Mapping[str, Any]], Reply] = empty_responder,
        port: int = 0,
    ):
        self.latency = latency
        self.responder = responder
        self.port = port
        #: the model cards of GET /v1/models (vLLM style: id, root, max_model_len)
        self.models: list[dict[str, Any]] = [
            {"id": "scripted-model", "object": "model", "root": "/weights/scripted-model",
             "max_model_len": 32768}]
        self.models_status = 200
        self.health_status = 200
        self.requests: list[RecordedRequest] = []
        self.script: deque[Reply] = deque()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, as the client wants it (…/v1)."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def push(self, *replies: Reply) -> None:
        """Queue replies; they are used, in order, before the responder."""
        with self._lock:
            self.script.extend(replies)

    def completions(self) -> list[RecordedRequest]:
        """Recorded chat-completions requests."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.script:
                return self.script.popleft()
        return self.responder(request.body)

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def start(self) -> ScriptedServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _down(self) -> bool:
                """Once stopped, kept-alive connections are dropped without an answer."""
                if server._stopping.is_set():
                    self.close_connection = True
                    return True
                return False

            def do_GET(self) -> None:
                if self._down():
                    return
                with server._lock:
                    server.requests.append(RecordedRequest(self.path, {}, {
                        k.lower(): v for k, v in self.headers.items()}, time.monotonic()))
                if self.path.rstrip("/").endswith("/models"):
                    if server.models_status != 200:
                        self._send(server.models_status, json.dumps(
                            {"error": {"message": f"scripted {server.models_status}"}}))
                        return
                    self._send(200, json.dumps({"object": "list", "data": server.models}))
                elif self.path.rstrip("/") == "/health":
                    self._send(server.health_status, "{}")
                else:
                    self._send(404, json.dumps({"error": "not found"}))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self._down():
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, json.dumps({"error": "bad json"}))
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, json.dumps({"error": "not found"}))
                    return
                request = RecordedRequest(
                    self.path, body, {k.lower(): v for k, v in self.headers.items()},
                    time.monotonic(),
                )
                reply = server._next_reply(request)
                try:
                    wait = server.latency + reply.delay
                    if wait > 0 and server._stopping.wait(wait):
                        return
                    if reply.raw_body is not None:
                        payload = reply.raw_body
                    elif reply.status != 200:
                        payload = json.dumps({"error": {"message": f"scripted {reply.status}"}})
                    else:
                        payload = json.dumps(_completion_body(body, reply))
                finally:
                    server._done()
                self._send(reply.status, payload, reply.headers)

            def _send(
                self, status: int, payload: str, headers: Mapping[str, str] | None = None
            ) -> None:
                data = payload.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): fine

        self._stopping.clear()
        httpd = _Server(("127.0.0.1", self.port), Handler)
        self.port = httpd.server_address[1]  # a restart serves on the same port
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _completion_body(request: Mapping[str, Any], reply: Reply) -> dict[str, Any]:
    n = int(request.get("n") or 1)
    contents = reply.contents
    if callable(contents):
        texts = list(contents(n))
    else:
        base = list(contents or [answer()])
        texts = base if reply.exact else [base[i % len(base)] for i in range(n)]
    prompt_chars = sum(len(m.get("content") or "") for m in request.get("messages", []))
    completion_tokens = sum(len(t or "") // 4 + 1 for t in texts)
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "scripted"),
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": t},
                "finish_reason": reply.finish_reason,
            }
            for i, t in enumerate(texts)
        ],
        "usage": {
            "prompt_tokens": prompt_chars // 4 + 1,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_chars // 4 + 1 + completion_tokens,
        },
    }


def main(argv: list[str] | None = None) -> None:
    """Serve the pattern responder until stdin closes (or a signal); print the URL first."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    args = parser.parse_args(argv)
    with ScriptedServer(latency=args.latency, responder=pattern_responder) as server:
        print(server.url, flush=True)
        try:
            sys.stdin.read()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
