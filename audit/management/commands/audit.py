"""``manage.py audit verify`` checks the hash chain; ``audit export`` writes entries as JSON lines
or CSV (``--drill N`` gives a drill's evidence pack)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import export_csv, export_jsonl, filtered_entries, verify_chain


class Command(BaseCommand):
    help = "Verify or export the append-only audit trail."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("verify", help="recompute every entry's hash and link; exit 1 on any tampering")
        export = sub.add_parser("export", help="write entries to stdout")
        export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
        export.add_argument("--drill", type=int)
        export.add_argument("--actor", default="")
        export.add_argument("--action", default="", help="action prefix, e.g. drill. or role.")

    def handle(self, *args, **options) -> None:
        if options["verb"] == "verify":
            checked, problems = verify_chain()
            for problem in problems:
                self.stderr.write(f"entry {problem.entry_id}: {problem.message}")
            if problems:
                raise CommandError(f"audit trail tampered with: {len(problems)} problem(s) in {checked} entries")
            self.stdout.write(f"audit trail intact: {checked} entries, every hash and link verified")
            return
        entries = filtered_entries(actor=options["actor"], action=options["action"], drill_id=options["drill"])
        writer = export_csv if options["format"] == "csv" else export_jsonl
        for chunk in writer(entries):
            sys.stdout.write(chunk)
