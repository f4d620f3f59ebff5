"""An OpenAI-compatible chat server on 127.0.0.1 whose replies a test scripts, one per call.

No LLM runs in the tests: this stands in for the model server of the generative answer mode
(``NEWSQA_LLM_BASE_URL``), so that the real LangChain client talks HTTP to something that
answers well, answers an error, sends a reply that is not a chat completion, or never answers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted reply: a chat completion holding ``content``, or ``status`` with ``body``
    (and ``headers``), or ``raw`` bytes with status 200; ``delay`` seconds first, and
    ``trickle`` seconds before each byte of the body (a reply that never stays silent long)."""

    content: str | None = None
    status: int = 200
    body: str = ""
    raw: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0


def completion(content: str) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        }
    )


@dataclass
class FakeLLM:
    url: str
    replies: list[Reply]
    calls: list[dict] = field(default_factory=list)


@contextmanager
def fake_llm_server(replies: list[Reply]) -> Iterator[FakeLLM]:
    """Serve ``replies`` in order (the last one again once they run out)."""
    server_state = FakeLLM(url="", replies=list(replies))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with lock:
                server_state.calls.append(request)
                queue = server_state.replies
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
            time.sleep(reply.delay)
            if reply.content is not None:
                status, body = 200, completion(reply.content)
            elif reply.raw is not None:
                status, body = 200, reply.raw
            else:
                status, body = reply.status, reply.body
            data = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not reply.trickle:
                    self.wfile.write(data)
                for byte in data if reply.trickle else b"":
                    time.sleep(reply.trickle)
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:  # the client gave up waiting
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
