"""A small local HTTP service backed by a real SQLite file: the system the demo drill recovers.

GET /health answers 200 while the database file opens and its orders table reads, 503 otherwise.
Run: python -m demo.orders_service --db PATH --port 8765
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def create_database(path: Path, orders: int = 200) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer TEXT, total_cents INTEGER)")
        if conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 0:
            conn.executemany("INSERT INTO orders (customer, total_cents) VALUES (?, ?)",
                             [(f"customer-{i % 37}", 1000 + i * 7) for i in range(orders)])
    conn.close()


def database_health(path: Path) -> tuple[bool, str]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            count = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as error:
        return False, f"database unavailable: {error}"
    return True, f"{count} orders"


def make_handler(db_path: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") not in ("/health", ""):
                self.send_error(404)
                return
            ok, detail = database_health(db_path)
            body = json.dumps({"ok": ok, "detail": detail}).encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # probes every half second would drown the console

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    create_database(args.db)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.db))
    print(f"demo orders service on http://{args.host}:{args.port}/health, database {args.db}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
