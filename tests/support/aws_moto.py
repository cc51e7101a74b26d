"""AWS for the AWS drill tests: moto's server mode in a process of its own, reached by the workers
through a small fault-injecting proxy, both on free loopback ports.

The workers find AWS the way production finds it: boto3 reads ``AWS_ENDPOINT_URL`` and the
credentials from the environment. ``configure_environment()`` sets those (dummy credentials, a
default region, no shared config files, so a developer's real AWS setup is never used) when the AWS
tests are collected, before the session's worker starts and copies the environment.

The proxy forwards every request to moto and keeps a log of the operations it saw; a test can make
it answer an operation with an AWS error (AccessDenied, Throttling) a number of times, or hold the
answer to one operation after moto applied it, until the test has killed the worker that sent it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ROUTE53_PATHS = [
    (re.compile(r"^POST /2013-04-01/hostedzone/[^/]+/rrset/?$"), "ChangeResourceRecordSets"),
    (re.compile(r"^GET /2013-04-01/hostedzone/[^/]+/rrset"), "ListResourceRecordSets"),
    (re.compile(r"^GET /2013-04-01/healthcheck/[^/]+/status"), "GetHealthCheckStatus"),
    (re.compile(r"^POST /2013-04-01/healthcheck/[^/]+$"), "UpdateHealthCheck"),
    (re.compile(r"^GET /2013-04-01/healthcheck/[^/]+$"), "GetHealthCheck"),
    (re.compile(r"^GET /2013-04-01/change/"), "GetChange"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bind_listener() -> socket.socket:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    return listener


def configure_environment(endpoint: str) -> None:
    """What a deployed worker has in its environment, pointed at the test endpoint."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        os.environ.pop(name, None)
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/drdrill-tests/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/drdrill-tests/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    })


class MotoServer:
    """``python -m moto.server`` in its own process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("moto server exited at start")
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("moto server did not answer in 60 s")

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Fault:
    operation: str
    code: str
    status: int
    times: int
    message: str


@dataclass
class Seen:
    service: str
    operation: str


@dataclass
class FaultProxy:
    """Between the workers and moto: logs operations, injects AWS errors, holds answers."""

    listener: socket.socket
    upstream_port: int = 0
    seen: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    hold_operation: str | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def start(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                service, operation = operation_of(self.command, self.path, dict(self.headers), body)
                fault = proxy._take_fault(service, operation)
                if fault is not None:
                    self._send(*error_response(service, fault))
                    return
                status, headers, payload = proxy._forward(self.command, self.path, dict(self.headers), body)
                if proxy._take_hold(operation):
                    proxy.held.set()
                    proxy.release.wait(120)
                try:
                    self._send(status, headers, payload)
                except OSError:
                    pass  # the worker that asked was killed while its answer was held

            def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = self.listener
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()

    # --- what the test asks ----------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()
            self.faults.clear()
            self.hold_operation = None
        self.held.clear()
        self.release.clear()

    def fail(self, operation: str, code: str, *, status: int = 400, times: int = 1, message: str = "") -> None:
        with self.lock:
            self.faults.append(Fault(operation, code, status, times, message or f"injected {code}"))

    def hold_answer_to(self, operation: str) -> None:
        with self.lock:
            self.hold_operation = operation
        self.held.clear()
        self.release.clear()

    def count(self, operation: str) -> int:
        with self.lock:
            return sum(1 for s in self.seen if s.operation == operation)

    def operations(self) -> list[str]:
        with self.lock:
            return [s.operation for s in self.seen]

    # --- inside -----------------------------------------------------------------------------------

    def _take_fault(self, service: str, operation: str) -> Fault | None:
        with self.lock:
            self.seen.append(Seen(service, operation))
            for fault in self.faults:
                if fault.operation == operation and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _take_hold(self, operation: str) -> bool:
        with self.lock:
            if self.hold_operation != operation:
                return False
            self.hold_operation = None
            return True

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


def operation_of(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """(service, operation) of a request, whatever the protocol: JSON target header, query Action,
    RPC path, or Route 53's REST paths."""
    lowered = {k.lower(): v for k, v in headers.items()}
    scope = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", lowered.get("authorization", ""))
    service = scope.group(1) if scope else "?"
    if "x-amz-target" in lowered:
        return service, lowered["x-amz-target"].rsplit(".", 1)[-1]
    rpc = re.search(r"/operation/([A-Za-z]+)", path)
    if rpc:
        return service, rpc.group(1)
    if body and b"Action=" in body:
        return service, parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
    for pattern, operation in ROUTE53_PATHS:
        if pattern.match(f"{method} {path}"):
            return service, operation
    return service, f"{method} {path.split('?')[0]}"


def error_response(service: str, fault: Fault) -> tuple[int, dict[str, str], bytes]:
    """An error as that service's protocol writes it (the shapes AWS sends)."""
    if service == "dynamodb":
        payload = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{fault.code}", "message": fault.message})
        return fault.status, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "drdrill-test"}, payload.encode()
    xml = (f'<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type>'
           f"<Code>{fault.code}</Code><Message>{fault.message}</Message></Error>"
           "<RequestId>drdrill-test</RequestId></ErrorResponse>")
    return fault.status, {"Content-Type": "text/xml", "x-amzn-RequestId": "drdrill-test"}, xml.encode()


# --- building the world the drills act on ---------------------------------------------------------

class AwsWorld:
    """boto3 clients straight to moto (not through the proxy), to set up and inspect what drills touch."""

    def __init__(self, moto_url: str) -> None:
        import boto3

        self.session = boto3.session.Session(region_name=REGION)
        self.url = moto_url

    def client(self, service: str, region: str = REGION) -> Any:
        return self.session.client(service, endpoint_url=self.url, region_name=region)

    @property
    def rds(self) -> Any:
        return self.client("rds")

    def aurora_cluster(self, name: str = "orders-db", instances: int = 2, engine: str = "aurora-postgresql") -> list[str]:
        self.rds.create_db_cluster(DBClusterIdentifier=name, Engine=engine, MasterUsername="orders",
                                   MasterUserPassword="not-a-real-password", BackupRetentionPeriod=7)
        names = [f"{name}-{i}" for i in range(1, instances + 1)]
        for instance in names:
            self.rds.create_db_instance(DBInstanceIdentifier=instance, DBClusterIdentifier=name, Engine=engine,
                                        DBInstanceClass="db.r6g.large")
        return names

    def writer(self, cluster: str) -> str | None:
        members = self.rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["DBClusterMembers"]
        return next((m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]), None)

    def multi_az_instance(self, name: str = "billing-db", *, backups: int = 7) -> dict[str, Any]:
        return self.rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t3.micro",
                                           MultiAZ=True, AllocatedStorage=20, MasterUsername="billing",
                                           MasterUserPassword="not-a-real-password",
                                           BackupRetentionPeriod=backups)["DBInstance"]

    def instance_names(self) -> list[str]:
        return sorted(i["DBInstanceIdentifier"] for i in self.rds.describe_db_instances()["DBInstances"])

    def cluster_names(self) -> list[str]:
        return sorted(c["DBClusterIdentifier"] for c in self.rds.describe_db_clusters()["DBClusters"])

    def snapshot_names(self) -> list[str]:
        return sorted(s["DBSnapshotIdentifier"] for s in self.rds.describe_db_snapshots()["DBSnapshots"])

    def tags(self, arn: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.rds.list_tags_for_resource(ResourceName=arn)["TagList"]}

    def failover_records(self, zone_name: str = "shop.example.com", record: str = "api.shop.example.com") -> dict[str, str]:
        route53 = self.client("route53")
        zone = route53.create_hosted_zone(Name=zone_name, CallerReference=f"drdrill-{time.monotonic_ns()}")["HostedZone"]["Id"]
        checks = {}
        for role, ip in (("primary", "192.0.2.10"), ("secondary", "198.51.100.20")):
            checks[role] = route53.create_health_check(CallerReference=f"{role}-{time.monotonic_ns()}", HealthCheckConfig={
                "IPAddress": ip, "Port": 443, "Type": "HTTPS", "ResourcePath": "/health", "FailureThreshold": 3,
                "RequestInterval": 30})["HealthCheck"]["Id"]
        route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
            {"Action": "CREATE", "ResourceRecordSet": {
                "Name": record, "Type": "A", "SetIdentifier": f"{role}-eu", "Failover": role.upper(), "TTL": 60,
                "ResourceRecords": [{"Value": ip}], "HealthCheckId": checks[role]}}
            for role, ip in (("primary", "192.0.2.10"), ("secondary", "198.51.100.20"))]})
        return {"zone": zone.rsplit("/", 1)[-1], "record": record, "primary_check": checks["primary"],
                "secondary_check": checks["secondary"]}

    def failover_roles(self, zone: str, record: str) -> dict[str, str]:
        sets = self.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        return {r["SetIdentifier"]: r["Failover"] for r in sets if r["Name"] == record + "." and r.get("SetIdentifier")}

    def table_with_pitr(self, name: str = "carts", items: int = 5) -> None:
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST")
        dynamodb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        for i in range(items):
            dynamodb.put_item(TableName=name, Item={"pk": {"S": f"cart-{i}"}})


def system_yaml(targets: dict[str, dict[str, Any]], *, slug: str = "orders-aws", rto: str = "10m", rpo: str = "10m") -> str:
    lines = [f"      {name}: {json.dumps(binding)}" for name, binding in targets.items()]
    return f"""
systems:
  - slug: {slug}
    name: Orders on AWS
    environment: staging
    tier: 1
    rto_target: {rto}
    rpo_target: {rpo}
    targets:
""" + "\n".join(lines) + "\n"


def runbook_yaml(steps: str, *, slug: str = "aws-drill", system: str = "orders-aws", kind: str = "full_failover",
                 extra: str = "") -> str:
    return f"""
runbooks:
  - slug: {slug}
    title: AWS drill under test
    system: {system}
    kind: {kind}
{extra}    steps:
{steps}
"""


def cluster_binding(cluster: str = "orders-db", **extra: Any) -> dict[str, Any]:
    return {"kind": "aws-rds-cluster", "account": ACCOUNT, "region": REGION, "cluster": cluster, **extra}


def instance_binding(instance: str = "billing-db", **extra: Any) -> dict[str, Any]:
    return {"kind": "aws-rds-instance", "account": ACCOUNT, "region": REGION, "instance": instance, **extra}
