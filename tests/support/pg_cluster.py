"""Throwaway PostgreSQL 15 clusters for the PostgreSQL drill tests: a primary with a streaming
standby, on free ports, run by the ``postgres`` OS user (PostgreSQL refuses to run as root, and CI
runs as root) in a folder that user owns under /tmp. Every server is stopped and every folder removed
when the test ends.

initdb runs once per session into a template; each cluster is a copy of it (fast), with its own port
and settings. Authentication over TCP is scram-sha-256 with a password the workers only know by the
name of an environment variable, as in production.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import yaml

PG_BIN = Path(os.environ.get("DRDRILL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"
SUPERUSER = "postgres"
DBNAME = "shop"
PASSWORD_ENV = "DRDRILL_TEST_PG_PASSWORD"
WRONG_PASSWORD_ENV = "DRDRILL_TEST_PG_WRONG_PASSWORD"
# Set while the test modules are collected, before the session's worker starts, so the worker
# inherits them, as a deployed worker has its database passwords in its environment.
os.environ.setdefault(PASSWORD_ENV, secrets.token_urlsafe(18))
os.environ.setdefault(WRONG_PASSWORD_ENV, "not-the-password-" + secrets.token_hex(4))

ORDERS_ROWS = 1000
EXAMPLES = Path(__file__).resolve().parent.parent.parent / "runbooks" / "examples" / "postgres"


def available() -> str | None:
    """Why the clusters cannot run here, or None."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL 15 server binaries not found in {PG_BIN}"
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        return f"no {OS_USER!r} OS user to run the clusters as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != OS_USER:
        return f"the tests must run as root or as {OS_USER!r} to control the clusters"
    return None


def as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *argv] if os.geteuid() == 0 else argv


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGPASSWORD": os.environ[PASSWORD_ENV]}
    return subprocess.run(as_server_user(argv), check=True, capture_output=True, text=True, cwd="/", env=env,
                          timeout=60, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    name: str
    data_dir: Path
    port: int

    def binding(self, **extra: Any) -> dict[str, Any]:
        return {"kind": "postgres", "host": "127.0.0.1", "port": self.port, "dbname": DBNAME, "user": SUPERUSER,
                "password_env": PASSWORD_ENV, "data_dir": str(self.data_dir), "bin_dir": str(PG_BIN),
                "os_user": OS_USER, **extra}

    def connect(self, dbname: str = DBNAME) -> psycopg.Connection[Any]:
        return psycopg.connect(host="127.0.0.1", port=self.port, dbname=dbname, user=SUPERUSER,
                               password=os.environ[PASSWORD_ENV], autocommit=True, connect_timeout=3)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def running(self) -> bool:
        result = subprocess.run(as_server_user([str(PG_BIN / "pg_ctl"), "status", "-D", str(self.data_dir)]),
                                capture_output=True, cwd="/")
        return result.returncode == 0

    def in_recovery(self) -> bool:
        return self.query("SELECT pg_is_in_recovery()")[0][0]

    def start(self) -> None:
        run([str(PG_BIN / "pg_ctl"), "start", "-D", str(self.data_dir), "-l", f"{self.data_dir}.log", "-w", "-s"])

    def stop(self, mode: str = "fast") -> None:
        run([str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-s"])

    def promote(self) -> None:
        with self.connect() as conn:
            conn.execute("SELECT pg_promote(true)")
            conn.execute("CHECKPOINT")

    def orders_summary(self) -> tuple[int, str]:
        return self.query("SELECT count(*), md5(string_agg(id::text || note, ',' ORDER BY id)) FROM orders")[0]

    def canary_seqs(self, drill_id: int) -> set[int]:
        return {row[0] for row in self.query("SELECT seq FROM drdrill_canary WHERE drill_id = %s", (drill_id,))}

    def timeline_histories(self) -> list[str]:
        return sorted(p.name for p in (self.data_dir / "pg_wal").glob("*.history"))


@dataclass
class Sandbox:
    """The folder of one test's clusters, owned by the postgres OS user."""

    root: Path
    template: Path
    clusters: list[Cluster] = field(default_factory=list)

    @property
    def backup_dir(self) -> Path:
        path = self.root / "backups"
        if not path.exists():
            run(["mkdir", str(path)])
        return path

    def planned(self, name: str, port: int | None = None) -> Cluster:
        """A cluster an action will create (a restore target): a data directory and a port, nothing more."""
        cluster = Cluster(name, self.root / name, port or free_port())
        self.clusters.append(cluster)
        return cluster

    def primary(self, name: str = "pg1", *, wal_keep_size: str = "128MB") -> Cluster:
        cluster = self.planned(name)
        run(["cp", "-a", str(self.template), str(cluster.data_dir)])
        settings = {
            "port": str(cluster.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            # pg_rewind needs hint bits logged; wal_keep_size keeps the WAL it reads back to the
            # divergence point after the crash recovery it runs (0 makes it fall back to a base backup).
            "wal_log_hints": "on",
            "wal_keep_size": f"'{wal_keep_size}'",
            "fsync": "off",
            "shared_buffers": "'16MB'",
            "max_connections": "40",
        }
        lines = "".join(f"{k} = {v}\n" for k, v in settings.items())
        run(["sh", "-c", 'printf "%s" "$1" >> "$2"', "sh", lines, str(cluster.data_dir / "postgresql.conf")])
        cluster.start()
        with cluster.connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {DBNAME}")
        with cluster.connect() as conn:
            conn.execute("CREATE TABLE orders (id integer PRIMARY KEY, note text NOT NULL)")
            conn.execute("INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, %s) g", (ORDERS_ROWS,))
        return cluster

    def standby_of(self, primary: Cluster, name: str = "pg2") -> Cluster:
        cluster = self.planned(name)
        run([str(PG_BIN / "pg_basebackup"), "-D", str(cluster.data_dir), "-R", "-X", "stream", "-c", "fast",
             "-d", f"host=127.0.0.1 port={primary.port} user={SUPERUSER} application_name={name}"])
        run(["sh", "-c", 'printf "port = %s\\n" "$1" >> "$2"', "sh", str(cluster.port),
             str(cluster.data_dir / "postgresql.auto.conf")])
        cluster.start()
        wait_for(lambda: primary.query("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0][0] > 0,
                 message=f"{name} to stream from {primary.name}")
        return cluster

    def cleanup(self) -> None:
        for pid_file in self.root.glob("*/postmaster.pid"):
            subprocess.run(as_server_user([str(PG_BIN / "pg_ctl"), "stop", "-D", str(pid_file.parent), "-m",
                                           "immediate", "-w", "-s"]), capture_output=True, cwd="/", timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def wait_for(predicate: Any, timeout: float = 30, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except psycopg.OperationalError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


def new_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="drdrill-pg-", dir="/tmp"))
    shutil.chown(root, OS_USER)
    return root


def shop_db_system(**targets: dict[str, Any]) -> str:
    """The system the example runbooks recover, bound to this test's clusters."""
    return yaml.safe_dump({"systems": [{
        "slug": "shop-db", "name": "Shop database", "environment": "staging", "tier": 1,
        "rto_target": "5m", "rpo_target": "1m", "targets": targets,
    }]})


def service_binding(*clusters: Cluster) -> dict[str, Any]:
    """What the applications connect to: every server, the writable one chosen by libpq."""
    return {"kind": "postgres", "host": ["127.0.0.1"] * len(clusters), "port": [c.port for c in clusters],
            "dbname": DBNAME, "user": SUPERUSER, "password_env": PASSWORD_ENV, "target_session_attrs": "read-write"}


def example(name: str, **replacements: str) -> str:
    text = (EXAMPLES / name).read_text()
    for old, new in replacements.items():
        assert old in text, f"{old!r} is not in {name}"
        text = text.replace(old, new)
    return text


class WriteProbe:
    """An independent probe, in the test process: tries a committed write through the service's
    multi-host connection every ``interval`` seconds and records when it worked."""

    def __init__(self, *clusters: Cluster, interval: float) -> None:
        self.conninfo = psycopg.conninfo.make_conninfo(
            host=",".join("127.0.0.1" for _ in clusters), port=",".join(str(c.port) for c in clusters), dbname=DBNAME,
            user=SUPERUSER, password=os.environ[PASSWORD_ENV], target_session_attrs="read-write", connect_timeout=2)
        self.interval = interval
        self.results: list[tuple[datetime, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> WriteProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    with conn.transaction():
                        conn.execute("SELECT pg_current_xact_id()")
                ok = True
            except psycopg.Error:
                ok = False
            self.results.append((datetime.now(timezone.utc), ok))
            self._stop.wait(self.interval)

    def outage(self) -> tuple[datetime, datetime]:
        """(last successful probe before the first failure, first successful probe after it): the
        outage lies within, and fills it but for at most one interval at each end."""
        first_failure = next(i for i, (_, ok) in enumerate(self.results) if not ok)
        last_up = self.results[first_failure - 1][0]
        back_up = next(at for at, ok in self.results[first_failure:] if ok)
        return last_up, back_up


class FreezingProxy:
    """A TCP proxy in front of a server. When a client sends a query containing ``pattern``, the
    proxy forwards it, then holds the server's answer back and sets ``frozen``: the test can kill
    the worker that sent it, right after the server acted and before the worker heard of it."""

    def __init__(self, upstream_port: int, pattern: bytes) -> None:
        self.upstream_port = upstream_port
        self.pattern = pattern
        self.frozen = threading.Event()
        self._armed = True
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            hold = threading.Event()
            threading.Thread(target=self._pipe, args=(client, upstream, hold, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, hold, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, hold: threading.Event, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if not from_client and hold.is_set():
                    continue  # the answer never reaches the client
                if from_client and self._armed and self.pattern in data:
                    # Hold the answer back before the query goes out: it may come back at once.
                    self._armed = False
                    hold.set()
                    sink.sendall(data)
                    self.frozen.set()
                    continue
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self._server.close()
