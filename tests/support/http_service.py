"""A real local HTTP service the tests control: take it down for a known time, count requests,
answer slowly, apply side effects once per Idempotency-Key (as a well-behaved API does), and keep
what was posted to it (a webhook receiver)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class ControlledService:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.healthy = True
        self.down_at: float | None = None
        self.up_at: float | None = None
        self.requests: list[tuple[str, str, str | None]] = []
        self.applied: dict[str, int] = {}
        self.bodies: list[tuple[str, bytes]] = []  # (path, body) of every request that carried one
        self.slow_request_arrived = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take_down_for(self, seconds: float) -> None:
        with self.lock:
            self.healthy = False
            self.down_at = time.time()
        timer = threading.Timer(seconds, self._bring_up)
        timer.daemon = True
        timer.start()

    def _bring_up(self) -> None:
        with self.lock:
            self.healthy = True
            self.up_at = time.time()

    def posted(self, path: str) -> list[bytes]:
        with self.lock:
            return [body for p, body in self.bodies if p == path]

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for _, p, _ in self.requests if p == path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: str = "ok") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                key = self.headers.get("Idempotency-Key")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with service.lock:
                    service.requests.append((self.command, url.path, key))
                    if body:
                        service.bodies.append((url.path, body))
                if url.path == "/health":
                    self._answer(200 if service.healthy else 503, "healthy" if service.healthy else "down")
                elif url.path == "/fault":
                    service.take_down_for(float(query.get("seconds", ["3"])[0]))
                    self._answer(200, "outage started")
                elif url.path == "/fail":
                    self._answer(500, "internal error")
                elif url.path == "/hook":
                    self._answer(200, "received")  # a webhook receiver: what it got is in bodies
                elif url.path == "/apply":
                    # A mutating call: applied once per idempotency key, however often it arrives.
                    if url.path == "/apply" and "slow" in query:
                        service.slow_request_arrived.set()
                        time.sleep(float(query["slow"][0]))
                    with service.lock:
                        service.applied[key or ""] = service.applied.get(key or "", 0) + (0 if key in service.applied else 1)
                    self._answer(200, "applied")
                else:
                    self._answer(404, "not found")

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
