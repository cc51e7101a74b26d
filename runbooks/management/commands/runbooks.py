"""``manage.py runbooks import PATH`` and ``manage.py runbooks export [--runbook SLUG] [--out FILE]``."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.context import audit_origin
from runbooks.services import export_runbooks, import_runbooks, read_sources
from runbooks.yaml_format import RunbookFormatError


class Command(BaseCommand):
    help = "Import runbooks and systems from YAML (a file or a folder), or export them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        importing = sub.add_parser("import", help="import a YAML file or every YAML file below a folder")
        importing.add_argument("path")
        exporting = sub.add_parser("export", help="print the latest version of runbooks as YAML")
        exporting.add_argument("--runbook", action="append", dest="runbooks", help="runbook slug (repeatable)")
        exporting.add_argument("--out", help="write to this file instead of standard output")

    def handle(self, *args, verb: str, **options) -> None:
        if verb == "import":
            try:
                with audit_origin(f"cli:{getpass.getuser()}@{socket.gethostname()}"):
                    report = import_runbooks(sources=read_sources(Path(options["path"])))
            except RunbookFormatError as error:
                raise CommandError("Import refused, nothing was saved:\n" + "\n".join(f"  - {p}" for p in error.problems))
            self.stdout.write(report.summary())
        else:
            text = export_runbooks(runbook_slugs=options["runbooks"])
            if options["out"]:
                Path(options["out"]).write_text(text, encoding="utf-8")
            else:
                self.stdout.write(text, ending="")
