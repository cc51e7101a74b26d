"""``manage.py review report ID --format pdf|html -o FILE`` writes the post-drill report;
``manage.py review evidence ID -o FILE.zip`` writes the evidence pack with its SHA-256 manifest.
They live in reviews, not in ``manage.py drill``, because drills never imports what reviews a drill."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from drills.models import Drill
from reviews.evidence_zip import evidence_zip
from reviews.report import drill_report, report_document, report_pdf


class Command(BaseCommand):
    help = "Write a drill's post-drill report (PDF or HTML) or its evidence pack (zip)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        report = sub.add_parser("report", help="the post-drill report")
        report.add_argument("drill", type=int)
        report.add_argument("--format", choices=["pdf", "html"], default="pdf")
        report.add_argument("-o", "--output", required=True, help="the file to write")
        evidence = sub.add_parser("evidence", help="the evidence pack: report, step evidence, measurements, canary "
                                                   "rows, timeline, audit entries, with a SHA256SUMS manifest")
        evidence.add_argument("drill", type=int)
        evidence.add_argument("-o", "--output", required=True, help="the .zip file to write")

    def handle(self, *args, verb: str, drill: int, output: str, **options) -> None:
        if not Drill.objects.filter(pk=drill).exists():
            raise CommandError(f"no drill #{drill}")
        if verb == "report":
            report = drill_report(drill)
            data = report_pdf(report) if options["format"] == "pdf" else report_document(report).encode()
        else:
            data = evidence_zip(drill)
        Path(output).write_bytes(data)
        self.stdout.write(f"wrote {output} ({len(data)} bytes)")
