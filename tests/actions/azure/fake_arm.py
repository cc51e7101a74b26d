"""A fake of the Azure Resource Manager endpoints the azure family calls, served over HTTPS on
loopback with certificates made here (trustme), so azure-mgmt-sql and azure-identity talk to it
unchanged: the worker is pointed at it only through environment variables its SDKs (or drdrill's
documented AZURE_RESOURCE_MANAGER_ENDPOINT) already read.

What it does as ARM does:
- a token endpoint in App Service's managed-identity form (IDENTITY_ENDPOINT / IDENTITY_HEADER),
  which DefaultAzureCredential uses as it would on App Service or Container Apps; every other
  request must carry the token it issued;
- long-running operations: a POST/PUT/DELETE answers 202 with ``Azure-AsyncOperation`` and
  ``Location`` headers (and Retry-After); the operation answers InProgress for ``in_progress_looks``
  status requests, then Succeeded (its change is applied at that moment) or Failed with an error;
  the Location URL answers 202 until then and the resulting resource after;
- ARM error bodies ``{"error": {"code", "message"}}``: 404 ResourceNotFound for what does not exist,
  403 AuthorizationFailed for a denied scope, 429 SubscriptionRequestsThrottled with Retry-After,
  400 MissingApiVersionParameter without an api-version.

One assumption: a database being created by a restore is visible to GET with status Restoring.

For the tests it records every request, every write request (so a dry-run can be shown to have
written nothing) and every operation it started (so a resumed operation can be shown to be the
same one), and it can hold a request until the test lets it go (to kill a worker mid-poll).
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import trustme

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
PRIMARY = ("orders-rg", "orders-sql-weu", "westeurope")
SECONDARY = ("orders-rg-dr", "orders-sql-neu", "northeurope")
GROUP = "orders-fog"
DATABASE = "orders"
LINK_ID = "5b1d7c2e-0f3a-4c6e-9d8b-2a4f6e8c0b1d"
SQL = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Sql/servers/(?P<server>[^/]+)"
OPS = r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.Sql/locations/(?P<loc>[^/]+)"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class Operation:
    id: str
    kind: str                 # failover, forceFailoverAllowDataLoss, tryPlannedBeforeForcedFailover, restore, delete, linkFailover...
    resource: str             # the path it acts on
    location: str
    started_at: datetime
    looks_left: int
    apply: Callable[[], None]
    result: Callable[[], tuple[int, Any]]
    error: tuple[str, str] | None = None
    status: str = "InProgress"
    looks: int = 0
    ended_at: datetime | None = None


@dataclass
class Hold:
    fragment: str
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    drop: bool = False


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(address, handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        # The handshake happens in the request's own thread: a client that never completes one
        # must not stall the accept loop.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(30)
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away (a killed worker) is not the fake's problem


class FakeArm:
    def __init__(self, workdir: Path) -> None:
        authority = trustme.CA()
        certificate = authority.issue_cert("127.0.0.1", "localhost")
        self.ca_path = workdir / "fake-arm-ca.pem"
        authority.cert_pem.write_to_path(str(self.ca_path))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        self.identity_header = secrets.token_hex(16)
        self.token = "fake-arm-token-" + secrets.token_hex(16)
        self.lock = threading.RLock()
        self.server = _TLSServer(("127.0.0.1", 0), self._handler(), context)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.reset()

    # --- running -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        for hold in self.holds:
            hold.release.set()
        self.server.shutdown()
        self.server.server_close()

    def environment(self) -> dict[str, str]:
        """What a worker needs to use the fake: nothing drdrill-specific beyond the documented endpoint."""
        return {
            "AZURE_RESOURCE_MANAGER_ENDPOINT": self.url,
            "IDENTITY_ENDPOINT": f"{self.url}/msi/token",
            "IDENTITY_HEADER": self.identity_header,
            # azure-core sends through requests, which trusts this bundle instead of the system's.
            "REQUESTS_CA_BUNDLE": str(self.ca_path),
        }

    # --- the world ---------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            now = datetime.now(timezone.utc)
            self.requests: list[tuple[str, str]] = []
            self.writes: list[tuple[str, str]] = []
            self.started: list[Operation] = []
            self.operations: dict[str, Operation] = {}
            self.holds: list[Hold] = []
            self.denied: list[str] = []
            self.throttles: list[dict[str, Any]] = []
            self.failures: dict[str, tuple[str, str]] = {}
            self.in_progress_looks = 2
            self.servers = {name: {"rg": rg, "location": location} for rg, name, location in (PRIMARY, SECONDARY)}
            self.group = {"name": GROUP, "servers": [PRIMARY[1], SECONDARY[1]], "primary": PRIMARY[1],
                          "replication_state": "CATCH_UP", "databases": [DATABASE]}
            self.databases: dict[tuple[str, str], dict[str, Any]] = {}
            for _, server, _ in (PRIMARY, SECONDARY):
                self.databases[(server, DATABASE)] = self._new_database(server, DATABASE, created=now - timedelta(days=30),
                                                                        earliest=now - timedelta(days=7))
            self.link = {"id": LINK_ID, "database": DATABASE, "primary": PRIMARY[1], "state": "CATCH_UP"}

    def _new_database(self, server: str, name: str, *, created: datetime, earliest: datetime | None,
                      status: str = "Online", tags: dict[str, str] | None = None) -> dict[str, Any]:
        return {"server": server, "name": name, "status": status, "created": created, "earliest": earliest,
                "tags": dict(tags or {}), "database_id": str(uuid.uuid4()), "create_mode": None, "restore_point": None,
                "source": None}

    def server_id(self, server: str) -> str:
        return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{self.servers[server]['rg']}/providers/Microsoft.Sql/servers/{server}"

    def database_id(self, server: str, name: str) -> str:
        return f"{self.server_id(server)}/databases/{name}"

    def primary(self) -> str:
        with self.lock:
            return self.group["primary"]

    def database(self, server: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self.databases.get((server, name))

    def add_database(self, server: str, name: str, tags: dict[str, str]) -> str:
        with self.lock:
            self.databases[(server, name)] = self._new_database(server, name, created=datetime.now(timezone.utc),
                                                                earliest=None, tags=tags)
            return self.database_id(server, name)

    # --- knobs -------------------------------------------------------------------------------------

    def fail_next(self, kind: str, code: str, message: str) -> None:
        """The next operation of ``kind`` ends Failed with this ARM error."""
        with self.lock:
            self.failures[kind] = (code, message)

    def deny(self, fragment: str) -> None:
        """403 AuthorizationFailed for every request whose path contains ``fragment``."""
        with self.lock:
            self.denied.append(fragment)

    def throttle(self, method: str, fragment: str, *, times: int, retry_after: int = 1) -> None:
        with self.lock:
            self.throttles.append({"method": method, "fragment": fragment, "times": times, "retry_after": retry_after})

    def hold_next(self, fragment: str) -> Hold:
        """Hold the next request whose path contains ``fragment`` until ``hold.release`` is set."""
        hold = Hold(fragment)
        with self.lock:
            self.holds.append(hold)
        return hold

    def started_of(self, kind: str) -> list[Operation]:
        with self.lock:
            return [op for op in self.started if op.kind == kind]

    def status_requests(self, operation: Operation) -> int:
        with self.lock:
            return sum(1 for method, path in self.requests
                       if method == "GET" and path.endswith(f"AzureAsyncOperation/{operation.id}"))

    # --- HTTP --------------------------------------------------------------------------------------

    def _handler(self) -> type:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    if body is not None:
                        self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("x-ms-request-id", str(uuid.uuid4()))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    self.close_connection = True

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                path = parts.path
                with fake.lock:
                    fake.requests.append((self.command, path))
                    if self.command in WRITE_METHODS:
                        fake.writes.append((self.command, path))
                    hold = next((h for h in fake.holds if h.fragment in path and not h.held.is_set()), None)
                if hold is not None:
                    hold.held.set()
                    hold.release.wait(60)
                    with fake.lock:
                        fake.holds.remove(hold)
                    if hold.drop:
                        self.close_connection = True
                        return
                status, answer, headers = fake.respond(self.command, path, parse_qs(parts.query), dict(self.headers), body)
                self._answer(status, answer, headers)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler

    def respond(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                body: Any) -> tuple[int, Any, dict[str, str]]:
        if path == "/msi/token":
            return self._token(query, headers)
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, error("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing or invalid."), {}
        if "api-version" not in query:
            return 400, error("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."), {}
        with self.lock:
            for fragment in self.denied:
                if fragment in path:
                    segments = path.split("/providers/Microsoft.Sql/", 1)[-1].split("/")
                    verb = {"GET": "read", "PUT": "write", "DELETE": "delete"}.get(method, "action")
                    action = "/".join(["Microsoft.Sql", *segments[0::2], verb])
                    return 403, error("AuthorizationFailed",
                                      f"The client 'drdrill-worker' with object id '{uuid.UUID(int=7)}' does not have "
                                      f"authorization to perform action '{action}' over scope '{path}' or the scope is "
                                      "invalid. If access was recently granted, please refresh your credentials."), {}
            for rule in self.throttles:
                if rule["times"] > 0 and rule["method"] == method and rule["fragment"] in path:
                    rule["times"] -= 1
                    return 429, error("SubscriptionRequestsThrottled",
                                      f"Number of '{'read' if method == 'GET' else 'write'}' requests for subscription "
                                      f"'{SUBSCRIPTION}' actor 'drdrill-worker' exceeded. Please try again after "
                                      f"'{rule['retry_after']}' seconds."), {"Retry-After": str(rule["retry_after"])}
            return self._route(method, path, body)

    def _token(self, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if headers.get("X-IDENTITY-HEADER") != self.identity_header:
            return 401, {"statusCode": 401, "message": "The X-IDENTITY-HEADER is missing or invalid."}, {}
        expires = int(time.time()) + 3600
        return 200, {"access_token": self.token, "expires_on": str(expires), "resource": query.get("resource", [""])[0],
                     "token_type": "Bearer", "client_id": str(uuid.UUID(int=7))}, {}

    # --- routes ------------------------------------------------------------------------------------

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        routes: list[tuple[str, str, Callable[..., tuple[int, Any, dict[str, str]]]]] = [
            ("GET", OPS + r"/(?P<what>\w+)AzureAsyncOperation/(?P<op>[^/]+)$", self._operation_status),
            ("GET", OPS + r"/(?P<what>\w+)OperationResults/(?P<op>[^/]+)$", self._operation_result),
            ("GET", SQL + r"/failoverGroups/(?P<fg>[^/]+)$", self._get_group),
            ("POST", SQL + r"/failoverGroups/(?P<fg>[^/]+)/(?P<kind>failover|forceFailoverAllowDataLoss|tryPlannedBeforeForcedFailover)$",
             self._fail_over_group),
            ("GET", SQL + r"/databases$", self._list_databases),
            ("GET", SQL + r"/databases/(?P<db>[^/]+)$", self._get_database),
            ("PUT", SQL + r"/databases/(?P<db>[^/]+)$", self._put_database),
            ("DELETE", SQL + r"/databases/(?P<db>[^/]+)$", self._delete_database),
            ("GET", SQL + r"/databases/(?P<db>[^/]+)/replicationLinks$", self._list_links),
            ("GET", SQL + r"/databases/(?P<db>[^/]+)/replicationLinks/(?P<link>[^/]+)$", self._get_link),
            ("POST", SQL + r"/databases/(?P<db>[^/]+)/replicationLinks/(?P<link>[^/]+)/(?P<kind>failover|forceFailoverAllowDataLoss)$",
             self._fail_over_link),
        ]
        for route_method, pattern, handler in routes:
            match = re.match(pattern, path, re.IGNORECASE)
            if match and route_method == method:
                found = match.groupdict()
                if "server" in found and (found["sub"] != SUBSCRIPTION or found["server"] not in self.servers
                                          or self.servers[found["server"]]["rg"] != found["rg"]):
                    return 404, error("ParentResourceNotFound", f"Can not perform requested operation on nested resource. "
                                      f"Parent resource '{found['server']}' not found."), {}
                return handler(path=path, body=body, **found)
        return 404, error("ResourceNotFound", f"The Resource '{path}' was not found."), {}

    def _not_found(self, kind: str, name: str, rg: str) -> tuple[int, Any, dict[str, str]]:
        return 404, error("ResourceNotFound", f"The Resource 'Microsoft.Sql/servers/{kind}/{name}' under resource group "
                                              f"'{rg}' was not found. For more details please go to "
                                              "https://aka.ms/ARMResourceNotFoundFix"), {}

    def _start(self, kind: str, resource: str, location: str, what: str, apply: Callable[[], None],
               result: Callable[[], tuple[int, Any]]) -> tuple[int, Any, dict[str, str]]:
        op = Operation(id=str(uuid.uuid4()), kind=kind, resource=resource, location=location,
                       started_at=datetime.now(timezone.utc), looks_left=self.in_progress_looks, apply=apply, result=result,
                       error=self.failures.pop(kind, None))
        self.operations[op.id] = op
        self.started.append(op)
        return 202, None, self._operation_headers(op, what)

    def _operation_headers(self, op: Operation, what: str) -> dict[str, str]:
        base = f"{self.url}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Sql/locations/{op.location}"
        return {"Azure-AsyncOperation": f"{base}/{what}AzureAsyncOperation/{op.id}?api-version=2025-01-01",
                "Location": f"{base}/{what}OperationResults/{op.id}?api-version=2025-01-01", "Retry-After": "1"}

    def _operation_status(self, *, op: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        operation = self.operations.get(op)
        if operation is None:
            return 404, error("ResourceNotFound", f"The operation '{op}' was not found."), {}
        operation.looks += 1
        if operation.status == "InProgress":
            if operation.looks_left > 0:
                operation.looks_left -= 1
            else:
                operation.ended_at = datetime.now(timezone.utc)
                if operation.error:
                    operation.status = "Failed"
                else:
                    operation.apply()
                    operation.status = "Succeeded"
        answer: dict[str, Any] = {"name": operation.id, "status": operation.status, "startTime": iso(operation.started_at)}
        if operation.ended_at:
            answer["endTime"] = iso(operation.ended_at)
        if operation.status == "Failed" and operation.error:
            answer["error"] = {"code": operation.error[0], "message": operation.error[1]}
        return 200, answer, ({"Retry-After": "1"} if operation.status == "InProgress" else {})

    def _operation_result(self, *, op: str, path: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        operation = self.operations.get(op)
        if operation is None:
            return 404, error("ResourceNotFound", f"The operation '{op}' was not found."), {}
        if operation.status == "InProgress":
            return 202, None, {"Location": f"{self.url}{path}?api-version=2025-01-01", "Retry-After": "1"}
        if operation.status == "Failed" and operation.error:
            return 400, error(*operation.error), {}
        status, answer = operation.result()
        return status, answer, {}

    # failover groups

    def group_json(self, server: str) -> dict[str, Any]:
        group = self.group
        others = [s for s in group["servers"] if s != server]
        role = lambda s: "Primary" if group["primary"] == s else "Secondary"  # noqa: E731
        return {"id": f"{self.server_id(server)}/failoverGroups/{group['name']}", "name": group["name"],
                "type": "Microsoft.Sql/servers/failoverGroups", "location": self.servers[server]["location"], "tags": {},
                "properties": {"readWriteEndpoint": {"failoverPolicy": "Manual"},
                               "readOnlyEndpoint": {"failoverPolicy": "Disabled"},
                               "replicationRole": role(server), "replicationState": group["replication_state"],
                               "partnerServers": [{"id": self.server_id(o), "location": self.servers[o]["location"],
                                                   "replicationRole": role(o)} for o in others],
                               "databases": [self.database_id(group["primary"], d) for d in group["databases"]]}}

    def _get_group(self, *, server: str, fg: str, rg: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        if fg != self.group["name"] or server not in self.group["servers"]:
            return self._not_found("failoverGroups", fg, rg)
        return 200, self.group_json(server), {}

    def _fail_over_group(self, *, server: str, fg: str, rg: str, kind: str, path: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        if fg != self.group["name"] or server not in self.group["servers"]:
            return self._not_found("failoverGroups", fg, rg)

        def apply() -> None:
            self.group["primary"] = server
            if self.link["database"] in self.group["databases"]:
                self.link["primary"] = server

        return self._start(kind, path, self.servers[server]["location"], "failoverGroup", apply,
                           lambda: (200, self.group_json(server)))

    # databases

    def database_json(self, server: str, name: str) -> dict[str, Any]:
        db = self.databases[(server, name)]
        properties: dict[str, Any] = {"status": db["status"], "databaseId": db["database_id"], "creationDate": iso(db["created"]),
                                      "collation": "SQL_Latin1_General_CP1_CI_AS", "maxSizeBytes": 268435456000,
                                      "currentServiceObjectiveName": "S0", "requestedServiceObjectiveName": "S0",
                                      "defaultSecondaryLocation": "northeurope", "catalogCollation": "SQL_Latin1_General_CP1_CI_AS",
                                      "zoneRedundant": False, "readScale": "Disabled"}
        if db["earliest"]:
            properties["earliestRestoreDate"] = iso(db["earliest"])
        return {"id": self.database_id(server, name), "name": name, "type": "Microsoft.Sql/servers/databases",
                "location": self.servers[server]["location"], "kind": "v12.0,user", "tags": db["tags"],
                "sku": {"name": "Standard", "tier": "Standard", "capacity": 10}, "properties": properties}

    def _list_databases(self, *, server: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, {"value": [self.database_json(s, n) for (s, n) in self.databases if s == server]}, {}

    def _get_database(self, *, server: str, db: str, rg: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        if (server, db) not in self.databases:
            return self._not_found("databases", db, rg)
        return 200, self.database_json(server, db), {}

    def _put_database(self, *, server: str, db: str, rg: str, body: Any, path: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        properties = (body or {}).get("properties") or {}
        if properties.get("createMode") != "PointInTimeRestore":
            return 400, error("InvalidParameterValue", "This fake creates databases by point-in-time restore only."), {}
        if (server, db) in self.databases:
            return 409, error("DatabaseAlreadyExists", f"The database '{db}' already exists on server '{server}'."), {}
        source_id = properties.get("sourceDatabaseId", "")
        source_name = source_id.rsplit("/", 1)[-1]
        source = self.databases.get((server, source_name))
        if source is None or source_id.lower() != self.database_id(server, source_name).lower():
            return 400, error("SourceDatabaseNotFound", f"The source database '{source_id}' does not exist."), {}
        point = datetime.fromisoformat(properties["restorePointInTime"].replace("Z", "+00:00"))
        if source["earliest"] is None or point < source["earliest"] or point > datetime.now(timezone.utc):
            return 400, error("PitrPointInTimeInvalid", f"The point in time '{properties['restorePointInTime']}' for "
                                                        f"restoration can't be earlier than the earliest restore point."), {}
        created = self._new_database(server, db, created=datetime.now(timezone.utc), earliest=None, status="Restoring",
                                     tags=(body or {}).get("tags"))
        created.update({"create_mode": "PointInTimeRestore", "restore_point": point, "source": source_id})
        self.databases[(server, db)] = created

        def apply() -> None:
            created["status"] = "Online"
            created["earliest"] = datetime.now(timezone.utc)

        return self._start("restore", path, self.servers[server]["location"], "database", apply,
                           lambda: (200, self.database_json(server, db)))

    def _delete_database(self, *, server: str, db: str, path: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        if (server, db) not in self.databases:
            return 204, None, {}
        running = next((op for op in self.operations.values()
                        if op.kind == "delete" and op.resource == path and op.status == "InProgress"), None)
        if running is not None:
            return 202, None, self._operation_headers(running, "database")  # the delete already under way

        def apply() -> None:
            self.databases.pop((server, db), None)

        return self._start("delete", path, self.servers[server]["location"], "database", apply, lambda: (204, None))

    # geo-replication links

    def link_json(self, server: str) -> dict[str, Any]:
        other = next(s for s in self.servers if s != server)
        role = lambda s: "Primary" if self.link["primary"] == s else "Secondary"  # noqa: E731
        return {"id": f"{self.database_id(server, self.link['database'])}/replicationLinks/{self.link['id']}",
                "name": self.link["id"], "type": "Microsoft.Sql/servers/databases/replicationLinks",
                "properties": {"partnerServer": other, "partnerDatabase": self.link["database"],
                               "partnerDatabaseId": self.database_id(other, self.link["database"]),
                               "partnerLocation": self.servers[other]["location"], "role": role(server),
                               "partnerRole": role(other), "replicationMode": "ASYNC", "startTime": "2026-01-05T09:00:00Z",
                               "percentComplete": 100, "replicationState": self.link["state"], "isTerminationAllowed": True,
                               "linkType": "GEO"}}

    def _list_links(self, *, server: str, db: str, rg: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        if (server, db) not in self.databases:
            return self._not_found("databases", db, rg)
        return 200, {"value": [self.link_json(server)] if db == self.link["database"] else []}, {}

    def _get_link(self, *, server: str, db: str, link: str, rg: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        if db != self.link["database"] or link != self.link["id"]:
            return self._not_found("replicationLinks", link, rg)
        return 200, self.link_json(server), {}

    def _fail_over_link(self, *, server: str, db: str, link: str, rg: str, kind: str, path: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        if db != self.link["database"] or link != self.link["id"]:
            return self._not_found("replicationLinks", link, rg)

        def apply() -> None:
            self.link["primary"] = server

        return self._start(f"link-{kind}", path, self.servers[server]["location"], "replicationLink", apply,
                           lambda: (200, self.link_json(server)))


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
