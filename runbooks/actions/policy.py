"""The worker execution policy: what a runbook step may touch on the host that runs it.

A runbook is code that runs near production, written by coordinators; the policy is written by the
worker host's operator, in a file the database and the web UI cannot change (its path comes from
``DRDRILL_WORKER_POLICY``). Before an action's ``plan()``, ``run()`` or ``poll()`` is called, the
engine asks the action what it will touch (its target's binding and its own parameters, as
``Access`` values) and checks each against the policy; anything outside fails the step with a
message naming the rule, and nothing is touched. drdrill's own files (its database, data folder,
secret key, static files, code and this policy) are refused whatever the policy says.

This module knows nothing of Django: the engine builds the policy with the protected paths.
"""

from __future__ import annotations

import fnmatch
import getpass
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .base import ActionFailed

POLICY_VARIABLE = "DRDRILL_WORKER_POLICY"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
ALLOWED_SCHEMES = ("http", "https")
# Variables no binding may name, whatever the policy lists: drdrill's own secrets and connections.
NEVER_REFERENCED = ("DRDRILL_SECRET_KEY", "DRDRILL_AUDIT_KEY", "DATABASE_URL", "CELERY_BROKER_URL",
                    "DRDRILL_METRICS_TOKEN", POLICY_VARIABLE)


class PolicyRefused(ActionFailed):
    """A step wanted to touch something the worker's policy does not allow."""


# --- what a step touches -------------------------------------------------------------------------

@dataclass(frozen=True)
class FileAccess:
    path: str
    write: bool = False
    purpose: str = ""


@dataclass(frozen=True)
class UrlAccess:
    url: str


@dataclass(frozen=True)
class HostAccess:
    """A network connection that is not a URL: a database server, for instance."""

    host: str
    port: int | None = None


@dataclass(frozen=True)
class EnvAccess:
    """A secret read from the worker's environment, by the name a binding gives."""

    name: str


@dataclass(frozen=True)
class ProgramAccess:
    """A server tool run from ``bin_dir`` as ``os_user`` (None: the worker's own user)."""

    bin_dir: str
    os_user: str | None = None


@dataclass(frozen=True)
class CloudAccess:
    provider: str           # "aws", "azure"
    account: str | None     # AWS account id, Azure subscription id
    region: str | None = None


Access = FileAccess | UrlAccess | HostAccess | EnvAccess | ProgramAccess | CloudAccess


# --- the policy ----------------------------------------------------------------------------------

def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _resolved(path: str | Path) -> Path:
    """The real location, symlinks followed; a file still to be written is judged by its folder."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        raise PolicyRefused(f"path {str(path)!r} is not absolute: a step names files by their full path")
    if candidate.exists():
        return candidate.resolve()
    return candidate.parent.resolve() / candidate.name


def _host_matches(pattern: str, host: str, port: int | None) -> bool:
    pattern_host, _, pattern_port = pattern.rpartition(":") if pattern.count(":") == 1 else (pattern, "", "")
    if pattern_port and port is not None and pattern_port != "*" and pattern_port != str(port):
        return False
    if pattern_port and port is None:
        return False
    pattern_host = pattern_host or pattern
    try:
        network = ipaddress.ip_network(pattern_host.strip("[]"), strict=False)
    except ValueError:
        return fnmatch.fnmatch(host.lower(), pattern_host.lower())
    try:
        return ipaddress.ip_address(host.strip("[]")) in network
    except ValueError:
        return False


@dataclass
class WorkerPolicy:
    source: str
    files: list[Path] = field(default_factory=list)
    network: list[str] = field(default_factory=list)
    url_schemes: list[str] = field(default_factory=lambda: list(ALLOWED_SCHEMES))
    bin_dirs: list[Path] = field(default_factory=list)
    os_users: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)
    cloud: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    protected: list[Path] = field(default_factory=list)
    protected_exceptions: list[Path] = field(default_factory=list)

    # --- building ----------------------------------------------------------------------------------

    @classmethod
    def default(cls, *, demo_area: Path, protected: Iterable[Path] = ()) -> WorkerPolicy:
        """No policy file: the demo's own folder and loopback, enough for ``make run``."""
        return cls(source=f"the default policy (no {POLICY_VARIABLE} file: only {demo_area} and loopback)",
                   files=[demo_area.resolve()], network=list(LOOPBACK),
                   protected=[Path(p).resolve() for p in protected], protected_exceptions=[demo_area.resolve()])

    @classmethod
    def from_file(cls, path: Path, *, protected: Iterable[Path] = (), protected_exceptions: Iterable[Path] = ()) -> WorkerPolicy:
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise PolicyRefused(f"the worker policy {path} cannot be read: {error}") from None
        if not isinstance(document, dict):
            raise PolicyRefused(f"the worker policy {path} must be a mapping (see docs/security.md)")
        known = {"files", "network", "url_schemes", "programs", "environment", "cloud"}
        unknown = sorted(set(document) - known)
        if unknown:
            raise PolicyRefused(f"the worker policy {path} has unknown section(s) {', '.join(unknown)}; "
                                f"it takes {', '.join(sorted(known))}")
        programs = document.get("programs") or {}
        schemes = [str(s).lower() for s in document.get("url_schemes") or ALLOWED_SCHEMES]
        bad_schemes = sorted(set(schemes) - set(ALLOWED_SCHEMES))
        if bad_schemes:
            raise PolicyRefused(f"the worker policy {path}: url_schemes may only list http and https, not {', '.join(bad_schemes)}")
        files = []
        for entry in document.get("files") or []:
            if not Path(str(entry)).is_absolute():
                raise PolicyRefused(f"the worker policy {path}: files entry {entry!r} is not an absolute path")
            files.append(Path(str(entry)).expanduser().resolve())
        return cls(
            source=f"the worker policy {path}",
            files=files,
            network=[str(h) for h in document.get("network") or []],
            url_schemes=schemes,
            bin_dirs=[Path(str(d)).resolve() for d in programs.get("bin_dirs") or []],
            os_users=[str(u) for u in programs.get("os_users") or []],
            environment=[str(e) for e in document.get("environment") or []],
            cloud={str(k): {str(f): [str(v) for v in (vs or [])] for f, vs in (rules or {}).items()}
                   for k, rules in (document.get("cloud") or {}).items()},
            protected=[Path(p).resolve() for p in (*protected, path)],
            protected_exceptions=[Path(p).resolve() for p in protected_exceptions],
        )

    # --- checking ----------------------------------------------------------------------------------

    def check_all(self, accesses: Iterable[Access]) -> None:
        for access in accesses:
            self.check(access)

    def check(self, access: Access) -> None:
        match access:
            case FileAccess():
                self._check_file(access)
            case UrlAccess():
                self._check_url(access.url)
            case HostAccess():
                self._check_host(access.host, access.port, what="connect to")
            case EnvAccess():
                self._check_env(access.name)
            case ProgramAccess():
                self._check_program(access)
            case CloudAccess():
                self._check_cloud(access)
            case _:
                raise PolicyRefused(f"unknown kind of access {access!r}")

    def _refuse(self, message: str) -> None:
        raise PolicyRefused(f"refused by {self.source}: {message}")

    def _check_file(self, access: FileAccess) -> None:
        path = _resolved(access.path)
        verb = "write" if access.write else "read"
        for protected in self.protected:
            if _under(path, protected) and not any(_under(path, e) for e in self.protected_exceptions):
                raise PolicyRefused(f"refused whatever the policy says: {path} is drdrill's own ({protected}); "
                                    f"a step may never {verb} it")
        if not any(_under(path, allowed) for allowed in self.files):
            self._refuse(f"{verb} {path}: not under an allowed folder (files: {', '.join(map(str, self.files)) or 'none'})")

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise PolicyRefused(f"refused whatever the policy says: {url!r} is not an http or https URL")
        if scheme not in self.url_schemes:
            self._refuse(f"{scheme} URLs are not allowed (url_schemes: {', '.join(self.url_schemes)})")
        if not parts.hostname:
            self._refuse(f"{url!r} names no host")
        port = parts.port or (443 if scheme == "https" else 80)
        self._check_host(parts.hostname, port, what=f"call {scheme}://")

    def _check_host(self, host: str, port: int | None, *, what: str) -> None:
        if not any(_host_matches(pattern, host, port) for pattern in self.network):
            where = f"{host}:{port}" if port else host
            self._refuse(f"{what} {where}: the host is not allowed (network: {', '.join(self.network) or 'none'})")

    def _check_env(self, name: str) -> None:
        if name in NEVER_REFERENCED:
            raise PolicyRefused(f"refused whatever the policy says: {name} is drdrill's own secret or connection")
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in self.environment):
            self._refuse(f"the environment variable {name} may not be read by a step "
                         f"(environment: {', '.join(self.environment) or 'none'})")

    def _check_program(self, access: ProgramAccess) -> None:
        user = access.os_user or getpass.getuser()
        if user == "root" or (access.os_user is None and os.geteuid() == 0):
            raise PolicyRefused("refused whatever the policy says: a step never runs a program as root; "
                                "name an os_user in the binding (e.g. postgres)")
        bin_dir = Path(access.bin_dir).resolve()
        if bin_dir not in self.bin_dirs:
            self._refuse(f"programs from {bin_dir} are not allowed (programs.bin_dirs: "
                         f"{', '.join(map(str, self.bin_dirs)) or 'none'})")
        if access.os_user is not None and access.os_user not in self.os_users:
            self._refuse(f"running as OS user {access.os_user!r} is not allowed "
                         f"(programs.os_users: {', '.join(self.os_users) or 'none'})")

    def _check_cloud(self, access: CloudAccess) -> None:
        rules = self.cloud.get(access.provider)
        if rules is None:
            self._refuse(f"no {access.provider} account may be acted on (cloud.{access.provider} is not set)")
        accounts = rules.get("accounts") or rules.get("subscriptions") or []
        if access.account is None or not any(fnmatch.fnmatchcase(access.account, a) for a in accounts):
            self._refuse(f"{access.provider} account {access.account or '(unnamed)'} is not allowed "
                         f"(cloud.{access.provider}: {', '.join(accounts) or 'none'}); bindings name their account")
        regions = rules.get("regions")
        if regions and (access.region is None or not any(fnmatch.fnmatchcase(access.region, r) for r in regions)):
            self._refuse(f"{access.provider} region {access.region or '(unnamed)'} is not allowed "
                         f"(cloud.{access.provider}.regions: {', '.join(regions)})")

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "files": [str(p) for p in self.files], "network": self.network,
                "url_schemes": self.url_schemes, "bin_dirs": [str(p) for p in self.bin_dirs],
                "os_users": self.os_users, "environment": self.environment, "cloud": self.cloud}
