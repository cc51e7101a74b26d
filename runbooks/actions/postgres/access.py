"""What a step on a PostgreSQL target reaches, from its binding alone (no psycopg needed): the
servers it connects to, the secret it reads, the files it may write and the tools it may run as
which OS user. Tools found on the PATH are checked when found (PgTarget.tool)."""

from __future__ import annotations

from typing import Any

from ..policy import Access, EnvAccess, FileAccess, HostAccess, ProgramAccess

DEFAULT_PORT = 5432
DEFAULT_OS_USER = "postgres"


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",")]


def binding_access(binding: dict[str, Any]) -> list[Access]:
    hosts = _listed(binding.get("host"))
    ports = _listed(binding.get("port")) or [str(DEFAULT_PORT)]
    if len(ports) == 1:
        ports = ports * max(len(hosts), 1)
    accesses: list[Access] = [HostAccess(host, int(port) if port.isdigit() else None) for host, port in zip(hosts, ports)]
    if binding.get("password_env"):
        accesses.append(EnvAccess(str(binding["password_env"])))
    if binding.get("passfile"):
        accesses.append(FileAccess(str(binding["passfile"]), purpose="the password file"))
    for folder, purpose in (("data_dir", "the data directory"), ("backup_dir", "the backup folder")):
        if binding.get(folder):
            accesses.append(FileAccess(str(binding[folder]), write=True, purpose=purpose))
    if binding.get("bin_dir"):
        accesses.append(ProgramAccess(str(binding["bin_dir"]), binding.get("os_user") or DEFAULT_OS_USER))
    elif binding.get("os_user") == "root":
        accesses.append(ProgramAccess("", "root"))
    return accesses
