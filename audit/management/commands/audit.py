"""``manage.py audit verify [--anchor FILE]`` checks the keyed chain (and the anchors written outside
the database); ``audit verify --archive FILE.zip`` checks a period archive offline (its SHA-256
manifest and its audit entries' MACs); ``audit anchor`` writes one now; ``audit export`` writes entries as JSON lines or CSV
(``--drill N`` gives a drill's entries)."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.anchors import AnchorError, read_anchors, write_anchor
from audit.archives import verify_archive
from audit.services import export_csv, export_jsonl, filtered_entries, verify_chain


class Command(BaseCommand):
    help = "Verify or export the append-only audit trail."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        verify = sub.add_parser("verify", help="recompute every entry's MAC and link; exit 1 on any tampering")
        verify.add_argument("--anchor", nargs="?", const="", default=None, metavar="FILE",
                            help="also check the anchors in FILE (JSON lines; without FILE: the file sink "
                                 "of DRDRILL_AUDIT_ANCHOR): detects removed newest entries")
        verify.add_argument("--archive", default=None, metavar="FILE.zip",
                            help="check an archive instead (manage.py review archive): every file against its "
                                 "SHA256SUMS, every archived audit entry against its MAC; reads no database")
        sub.add_parser("anchor", help="write the newest entry's number and MAC to DRDRILL_AUDIT_ANCHOR now")
        export = sub.add_parser("export", help="write entries to stdout")
        export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
        export.add_argument("--drill", type=int)
        export.add_argument("--actor", default="")
        export.add_argument("--action", default="", help="action prefix, e.g. drill. or role.")

    def handle(self, *args, **options) -> None:
        if options["verb"] == "anchor":
            try:
                anchor = write_anchor()
            except AnchorError as error:
                raise CommandError(str(error)) from None
            if anchor is None:
                raise CommandError("nothing anchored: set DRDRILL_AUDIT_ANCHOR (file:///path, syslog:// or https://…) "
                                   "and make sure the trail has entries")
            self.stdout.write(f"anchored entry {anchor['entry']} (MAC {anchor['mac'][:16]}…) to {settings.AUDIT_ANCHOR}")
            return
        if options["verb"] == "verify" and options["archive"]:
            check = verify_archive(Path(options["archive"]))
            for problem in check.problems:
                self.stderr.write(problem)
            if check.problems:
                raise CommandError(f"archive does not verify: {len(check.problems)} problem(s)")
            self.stdout.write(f"archive intact: {check.files} files match SHA256SUMS, {check.entries} audit entries "
                              "match their MACs")
            return
        if options["verb"] == "verify":
            anchors = None
            if options["anchor"] is not None:
                path = options["anchor"] or (urlsplit(settings.AUDIT_ANCHOR).path
                                             if settings.AUDIT_ANCHOR.startswith("file://") else "")
                if not path or not Path(path).exists():
                    raise CommandError(f"no anchor file {path or '(none given and DRDRILL_AUDIT_ANCHOR is not a file)'}")
                try:
                    anchors = read_anchors(Path(path))
                except AnchorError as error:
                    raise CommandError(str(error)) from None
            checked, problems = verify_chain(anchors=anchors)
            for problem in problems:
                self.stderr.write(f"entry {problem.entry_id}: {problem.message}")
            if problems:
                raise CommandError(f"audit trail tampered with: {len(problems)} problem(s) in {checked} entries")
            against = f", and {len(anchors)} anchor(s)" if anchors else ""
            self.stdout.write(f"audit trail intact: {checked} entries, every MAC and link verified{against}")
            return
        entries = filtered_entries(actor=options["actor"], action=options["action"], drill_id=options["drill"])
        writer = export_csv if options["format"] == "csv" else export_jsonl
        for chunk in writer(entries):
            sys.stdout.write(chunk)
