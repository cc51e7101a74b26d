"""``manage.py review report ID --format pdf|html -o FILE`` writes the post-drill report;
``manage.py review evidence ID -o FILE.zip`` writes the evidence pack with its SHA-256 manifest;
``manage.py review archive --from DATE --to DATE -o FILE.zip`` writes a period's archive, which
``manage.py audit verify --archive FILE.zip`` checks offline.
They live in reviews, not in ``manage.py drill``, because drills never imports what reviews a drill."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from drills.models import Drill
from reviews.evidence_zip import evidence_zip
from reviews.period_archive import archive_digest, period_archive
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
        archive = sub.add_parser("archive", help="every drill that ended in a period, its report revisions and the "
                                                 "period's audit entries, with one SHA256SUMS")
        archive.add_argument("--from", dest="starts", type=date.fromisoformat, required=True, help="first day, YYYY-MM-DD")
        archive.add_argument("--to", dest="ends", type=date.fromisoformat, required=True,
                             help="the day after the last, YYYY-MM-DD")
        archive.add_argument("-o", "--output", required=True, help="the .zip file to write")

    def handle(self, *args, verb: str, output: str, drill: int | None = None, **options) -> None:
        if verb == "archive":
            if options["ends"] <= options["starts"]:
                raise CommandError("--to is the day after the period's last day: it comes after --from")
            data = period_archive(starts=options["starts"], ends=options["ends"])
            Path(output).write_bytes(data)
            self.stdout.write(f"wrote {output} ({len(data)} bytes, sha256 {archive_digest(data)})")
            return
        if not Drill.objects.filter(pk=drill).exists():
            raise CommandError(f"no drill #{drill}")
        if verb == "report":
            report = drill_report(drill)
            data = report_pdf(report) if options["format"] == "pdf" else report_document(report).encode()
        else:
            data = evidence_zip(drill)
        Path(output).write_bytes(data)
        self.stdout.write(f"wrote {output} ({len(data)} bytes)")
