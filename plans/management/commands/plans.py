"""``manage.py plans import PATH`` and ``manage.py plans export [--plan SLUG]…``."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.context import audit_origin
from plans.services import export_plans, import_plans, read_plan_sources
from plans.yaml_format import PlanFormatError


class Command(BaseCommand):
    help = "Import recovery plans from YAML (a file or a folder), or export them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        importing = sub.add_parser("import", help="import a YAML file or every YAML file below a folder")
        importing.add_argument("path")
        exporting = sub.add_parser("export", help="print the latest version of plans as YAML")
        exporting.add_argument("--plan", action="append", dest="plans", help="plan slug (repeatable)")

    def handle(self, *args, verb: str, **options) -> None:
        if verb == "export":
            self.stdout.write(export_plans(plan_slugs=options["plans"]), ending="")
            return
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        try:
            with audit_origin(f"cli:{getpass.getuser()}@{socket.gethostname()}"):
                report = import_plans(sources=read_plan_sources(path))
        except PlanFormatError as error:
            raise CommandError("Import refused, nothing was saved:\n" + "\n".join(f"  - {p}" for p in error.problems))
        self.stdout.write(report.summary())
