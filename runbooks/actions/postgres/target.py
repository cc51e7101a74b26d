"""A PostgreSQL target as a system binds it: how to connect, and how to run the server's own tools.

A binding names the password, never holds it: ``password_env`` names an environment variable of
the worker, ``service`` a libpq service (pg_service.conf), ``passfile`` a pgpass file. Nothing here
puts a password into a message, an evidence record or a command line; the server tools get it in
their environment (PGPASSWORD), which only the worker's and the server's OS users can read.

Server-control tools (pg_ctl, pg_basebackup, pg_rewind, pg_controldata) run on the database host as
the binding's ``os_user``: PostgreSQL refuses to run as root, so a root worker switches user with
``runuser -u <os_user> --``.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..base import ActionFailed, StepContext
from ..policy import ProgramAccess

KIND = "postgres"
DEFAULT_CONNECT_TIMEOUT = 5
DEFAULT_OS_USER = "postgres"
# Our own queries are small; one that runs longer than this is stuck, and the call must return.
STATEMENT_TIMEOUT_MS = 10_000
TOOL_TIMEOUT = 20.0
# pg_ctl start -W returns before the postmaster writes its pid file: a server not seen running this
# soon after its start is still starting, not failed.
START_GRACE_SECONDS = 5.0

BINDING_FIELDS = {
    "kind", "host", "port", "dbname", "user", "password_env", "service", "passfile", "sslmode",
    "target_session_attrs", "connect_timeout", "data_dir", "bin_dir", "os_user", "backup_dir",
}
SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
SESSION_ATTRS = {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
QUALIFIED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


def binding_problems(binding: dict[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with a postgres target binding, as (field, message) pairs; checked at import."""
    problems: list[tuple[str, str]] = []
    for key in sorted(set(binding) - BINDING_FIELDS):
        problems.append((key, f"unknown field; a postgres target takes: {', '.join(sorted(BINDING_FIELDS - {'kind'}))}"))
    if not binding.get("service"):
        for required in ("host", "dbname", "user"):
            if not binding.get(required):
                problems.append((required, "required (or name a libpq service with 'service')"))
    hosts = _as_list(binding.get("host"))
    ports = _as_list(binding.get("port"))
    if not all(isinstance(h, str) and h for h in hosts):
        problems.append(("host", "must be a host name, or a list of them for a multi-host service"))
    if not all(_is_port(p) for p in ports):
        problems.append(("port", "must be a port number, or a list of them (one per host)"))
    elif len(ports) > 1 and len(ports) != len(hosts):
        problems.append(("port", f"gives {len(ports)} ports for {len(hosts)} hosts; give one, or one per host"))
    env = binding.get("password_env")
    if env is not None and (not isinstance(env, str) or not ENV_NAME.match(env)):
        problems.append(("password_env", "must be the name of an environment variable (e.g. SHOP_DB_PASSWORD), "
                                         f"got {env!r}"))
    if binding.get("sslmode") is not None and binding["sslmode"] not in SSLMODES:
        problems.append(("sslmode", f"must be one of {', '.join(sorted(SSLMODES))}"))
    attrs = binding.get("target_session_attrs")
    if attrs is not None and attrs not in SESSION_ATTRS:
        problems.append(("target_session_attrs", f"must be one of {', '.join(sorted(SESSION_ATTRS))}"))
    timeout = binding.get("connect_timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 2):
        problems.append(("connect_timeout", "must be a whole number of seconds, at least 2 (libpq's minimum)"))
    for path_field in ("data_dir", "bin_dir", "backup_dir", "passfile"):
        value = binding.get(path_field)
        if value is not None and (not isinstance(value, str) or not value.startswith("/")):
            problems.append((path_field, f"must be an absolute path, got {value!r}"))
    if binding.get("os_user") is not None and not isinstance(binding["os_user"], str):
        problems.append(("os_user", "must be the name of the operating-system user that owns the data directory"))
    return problems


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [v.strip() for v in value.split(",")]
    return [value]


def _is_port(value: Any) -> bool:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def table_identifier(name: str) -> sql.Identifier:
    """``orders`` or ``public.orders`` as a quoted identifier; names are checked at import."""
    return sql.Identifier(*name.split("."))


def described_target(name: str, targets: dict[str, dict[str, Any]]) -> str:
    """A target as describe() names it: its name and address from the binding, never a password."""
    binding = targets.get(name)
    if binding is None:
        return f"target {name!r}"
    return f"{name} ({PgTarget(name, binding).address})"


@dataclass(frozen=True)
class PgTarget:
    name: str
    binding: dict[str, Any]
    # The worker's execution policy: a tool found on the PATH is checked when it is found.
    policy: Any = None

    @classmethod
    def of(cls, ctx: StepContext, name: str) -> PgTarget:
        binding = ctx.target(name)
        if binding.get("kind") != KIND:
            raise ActionFailed(f"target {name!r} is a {binding.get('kind')!r} target, not a postgres one")
        return cls(name, binding, ctx.policy)

    # --- connecting -------------------------------------------------------------------------------

    @property
    def hosts(self) -> list[str]:
        return [str(h) for h in _as_list(self.binding.get("host"))]

    @property
    def ports(self) -> list[str]:
        return [str(p) for p in _as_list(self.binding.get("port"))]

    @property
    def first_port(self) -> int:
        return int(self.ports[0]) if self.ports else 5432

    @property
    def address(self) -> str:
        """Where the target is, for messages and evidence: never a password."""
        if self.binding.get("service") and not self.hosts:
            return f"libpq service {self.binding['service']!r}"
        ports = self.ports or ["5432"]
        pairs = [f"{h}:{ports[i] if len(ports) > 1 else ports[0]}" for i, h in enumerate(self.hosts)]
        address = f"postgresql://{self.binding.get('user', '')}@{','.join(pairs)}/{self.binding.get('dbname', '')}"
        if self.binding.get("target_session_attrs"):
            address += f"?target_session_attrs={self.binding['target_session_attrs']}"
        return address

    def connection_params(self, **overrides: Any) -> dict[str, Any]:
        """libpq keywords for this target, without the password."""
        b = self.binding
        params: dict[str, Any] = {
            "service": b.get("service"),
            "host": ",".join(self.hosts) or None,
            "port": ",".join(self.ports) or None,
            "dbname": b.get("dbname"),
            "user": b.get("user"),
            "passfile": b.get("passfile"),
            "sslmode": b.get("sslmode"),
            "target_session_attrs": b.get("target_session_attrs"),
            "connect_timeout": b.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
            "application_name": "drdrill",
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def password(self) -> str | None:
        env = self.binding.get("password_env")
        if not env:
            return None
        value = os.environ.get(env)
        if value is None:
            raise ActionFailed(
                f"target {self.name!r}: password_env names the environment variable {env}, which is not set "
                "where this worker runs; set it in the worker's environment (drdrill never stores the password)")
        return value

    def connect(self, *, timeout: int | None = None, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
                **overrides: Any) -> psycopg.Connection[Any]:
        params = self.connection_params(**overrides)
        if timeout is not None:
            params["connect_timeout"] = max(2, int(timeout))
        password = self.password()
        try:
            return psycopg.connect(**params, password=password, autocommit=True,
                                   options=f"-c statement_timeout={statement_timeout_ms}")
        except psycopg.OperationalError as error:
            raise self.connect_error(error) from None

    def connect_error(self, error: Exception) -> ActionFailed:
        text = " ".join(str(error).split())
        hint = ""
        if "password authentication failed" in text:
            env = self.binding.get("password_env")
            hint = (f" Check the password in the environment variable {env} (password_env)." if env
                    else " Name the password with password_env, service or passfile.")
        elif "no password supplied" in text:
            hint = " The server asks for a password: name it with password_env, service or passfile."
        elif "timeout expired" in text:
            hint = " The host did not answer: check the address and the network."
        if hint:
            text = text.rstrip(".") + "." + hint
        return ActionFailed(f"cannot connect to PostgreSQL target {self.name!r} ({self.address}): {text}")

    def tool_conninfo(self, **overrides: Any) -> str:
        """A connection string for pg_basebackup / pg_rewind; the password goes in tool_env()."""
        params = self.connection_params(**overrides)
        params.pop("target_session_attrs", None)
        return psycopg.conninfo.make_conninfo(**params)

    def tool_env(self) -> dict[str, str]:
        password = self.password()
        return {"PGPASSWORD": password} if password is not None else {}

    # --- controlling the server on its host --------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        value = self.binding.get("data_dir")
        if not value:
            raise ActionFailed(f"target {self.name!r} has no data_dir: server control (stop, start, rewind, "
                               "restore) needs the data directory on the database host")
        return Path(value)

    @property
    def os_user(self) -> str:
        return self.binding.get("os_user") or DEFAULT_OS_USER

    def tool(self, name: str) -> str:
        bin_dir = self.binding.get("bin_dir")
        if bin_dir:
            path = Path(bin_dir) / name
        else:
            found = shutil.which(name)
            if found is None:
                raise ActionFailed(f"target {self.name!r}: {name} is not on the worker's PATH; set bin_dir "
                                   "(e.g. /usr/lib/postgresql/15/bin)")
            path = Path(found)
        # Checked before the tool runs, even on a dry-run's way to it: the policy names the folders
        # tools may come from and the users they may run as (never root).
        if self.policy is not None:
            self.policy.check(ProgramAccess(str(path.resolve().parent), self.os_user))
        if not os.access(path, os.X_OK):
            raise ActionFailed(f"target {self.name!r}: {path} is not an executable; check bin_dir")
        return str(path)

    def as_server_user(self, argv: list[str]) -> list[str]:
        """The command run as the OS user that owns the data directory."""
        if os.geteuid() == 0:
            runuser = shutil.which("runuser", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
            if runuser is None:
                raise ActionFailed("the worker runs as root and needs runuser to run PostgreSQL tools as "
                                   f"{self.os_user!r}, but runuser is not installed")
            return [runuser, "-u", self.os_user, "--", *argv]
        current = getpass.getuser()
        if self.binding.get("os_user") and self.binding["os_user"] != current:
            raise ActionFailed(f"target {self.name!r}: PostgreSQL tools must run as {self.os_user!r}, but the worker "
                               f"runs as {current!r} (not root, so it cannot switch user); run the worker as "
                               f"{self.os_user!r}")
        return argv

    def run_tool(self, name: str, *args: str, timeout: float = TOOL_TIMEOUT, check: bool = True,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run_as_server_user([self.tool(name), *args], timeout=timeout, check=check, env=env)

    def run_as_server_user(self, argv: list[str], *, timeout: float = TOOL_TIMEOUT, check: bool = True,
                           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        label = Path(argv[0]).name
        try:
            result = subprocess.run(self.as_server_user(argv), capture_output=True, text=True, timeout=timeout,
                                    cwd="/", env={**os.environ, **(env or {})})
        except subprocess.TimeoutExpired:
            raise ActionFailed(f"{label} on target {self.name!r} did not finish within {timeout:.0f} s") from None
        if check and result.returncode != 0:
            raise ActionFailed(f"{label} on target {self.name!r} failed (exit {result.returncode}): "
                               f"{_last_lines(result.stderr or result.stdout)}")
        return result

    def set_port_in_auto_conf(self) -> None:
        """Make the data directory's server listen on the binding's port. A copied data directory
        (restore, pg_rewind, base backup) carries its source's port; the last setting in
        postgresql.auto.conf wins, so appending one line is enough and survives restarts."""
        self.run_as_server_user(["sh", "-c", 'printf "port = %s\\n" "$1" >> "$2"', "sh", str(self.first_port),
                                 str(self.data_dir / "postgresql.auto.conf")])

    def server_running(self) -> bool:
        """pg_ctl status: 0 running, 3 not running, 4 no usable data directory."""
        result = self.run_tool("pg_ctl", "status", "-D", str(self.data_dir), check=False)
        if result.returncode == 4 and not self.exists_for_server_user(self.data_dir):
            return False
        if result.returncode == 4:
            raise ActionFailed(f"target {self.name!r}: {self.data_dir} is not a PostgreSQL data directory "
                               f"that {self.os_user!r} can read")
        return result.returncode == 0

    def control_data(self) -> dict[str, str]:
        """pg_controldata of the data directory, whether the server runs or not."""
        output = self.run_tool("pg_controldata", "-D", str(self.data_dir)).stdout
        return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in output.splitlines()) if v}

    def start_server(self) -> Path:
        """Start the server without waiting (pg_ctl -W): callers poll until it accepts connections."""
        log = self.server_log
        self.run_tool("pg_ctl", "start", "-D", str(self.data_dir), "-l", str(log), "-W")
        return log

    @property
    def server_log(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".log")

    def server_log_tail(self) -> str:
        try:
            return _last_lines(self.server_log.read_text(errors="replace"))
        except OSError:
            return f"(no server log at {self.server_log})"

    def exists_for_server_user(self, path: Path) -> bool:
        return self.run_as_server_user(["test", "-e", str(path)], check=False).returncode == 0

    def path_writable_by_server_user(self, path: Path) -> bool:
        return self.run_as_server_user(["test", "-w", str(path)], check=False).returncode == 0


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(no output)"


# --- reading the server's state -------------------------------------------------------------------

def in_recovery(conn: psycopg.Connection[Any]) -> bool:
    return bool(conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])


def data_directory(conn: psycopg.Connection[Any]) -> str | None:
    """The server's data directory, or None when the role may not read it (superuser or
    pg_read_all_settings can)."""
    try:
        return conn.execute("SELECT current_setting('data_directory')").fetchone()[0]
    except psycopg.errors.InsufficientPrivilege:
        return None


def timeline(conn: psycopg.Connection[Any]) -> int:
    """The timeline the server writes (a primary) or replays (a standby) now."""
    if in_recovery(conn):
        row = conn.execute("SELECT received_tli FROM pg_stat_wal_receiver").fetchone()
        if row and row[0]:
            return int(row[0])
        return int(conn.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()[0])
    walfile = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
    return int(walfile[:8], 16)


def accepts_writes(conn: psycopg.Connection[Any]) -> bool:
    """A real write: a read-write transaction that takes a transaction id and commits."""
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ WRITE")
            conn.execute("SELECT pg_current_xact_id()")
        return True
    except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.ObjectNotInPrerequisiteState):
        return False


def wal_receiver(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT status, sender_host, sender_port, received_tli FROM pg_stat_wal_receiver").fetchone()
    if row is None:
        return None
    return {"status": row[0], "sender_host": row[1], "sender_port": row[2], "timeline": row[3]}


def follows(receiver: dict[str, Any] | None, source: PgTarget) -> bool:
    """Whether a standby's WAL receiver streams from ``source``: same port, and the same host by
    name or address (a Unix socket directory counts as the database host itself)."""
    if not receiver or receiver["status"] != "streaming" or receiver["sender_port"] != source.first_port:
        return False
    host = receiver["sender_host"]
    if host is None or host.startswith("/") or host in source.hosts:
        return True
    return bool(_addresses(host) & set().union(*(_addresses(h) for h in source.hosts)))


def _addresses(host: str) -> set[str]:
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return set()


def role_now(target: PgTarget) -> str:
    """For plans: ``primary``, ``standby``, or ``stopped`` (a server of this host that is not
    running, which an earlier step may be about to change). A running server that cannot be
    reached, or refuses the credentials, is an error."""
    if target.binding.get("data_dir") and not target.server_running():
        return "stopped"
    with target.connect() as conn:
        return "standby" if in_recovery(conn) else "primary"


def is_superuser_or(conn: psycopg.Connection[Any], attribute: str) -> bool:
    row = conn.execute(
        sql.SQL("SELECT rolsuper OR {} FROM pg_roles WHERE rolname = current_user").format(sql.Identifier(attribute))
    ).fetchone()
    return bool(row and row[0])
