"""``manage.py report quarterly 2026-Q3 --format pdf|csv|html -o FILE``: the same document as the
report page's downloads (an archived quarter: the archived document, byte for byte)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from programme.documents import render_csv, render_html, render_pdf
from programme.models import ArchivedReport
from programme.quarters import BadQuarter, Quarter
from programme.report import quarterly_report

RENDERERS = {"pdf": render_pdf, "csv": render_csv, "html": render_html}


class Command(BaseCommand):
    help = "Write the quarterly DR report of a quarter (e.g. 2026-Q3) as PDF, CSV or HTML."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="report", required=True)
        quarterly = sub.add_parser("quarterly", help="the quarterly DR report")
        quarterly.add_argument("quarter", help="e.g. 2026-Q3")
        quarterly.add_argument("--format", choices=sorted(RENDERERS), default="pdf")
        quarterly.add_argument("-o", "--output", required=True, help="file to write ('-' for standard output, csv/html)")
        quarterly.add_argument("--fresh", action="store_true",
                               help="compute from today's data even when the quarter is archived")

    def handle(self, *args, **options) -> None:
        try:
            quarter = Quarter.parse(options["quarter"])
        except BadQuarter as problem:
            raise CommandError(str(problem)) from None
        fmt = options["format"]
        stored = None if options["fresh"] else ArchivedReport.objects.filter(quarter=str(quarter), format=fmt).first()
        content = bytes(stored.content) if stored else RENDERERS[fmt](quarterly_report(quarter))
        if options["output"] == "-":
            if fmt == "pdf":
                raise CommandError("A PDF is not written to standard output: give -o FILE.")
            self.stdout.write(content.decode(), ending="")
            return
        path = Path(options["output"])
        try:
            path.write_bytes(content)
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}") from None
        origin = f"archived {stored.generated_at:%Y-%m-%d}, SHA-256 {stored.sha256}" if stored else "generated now"
        self.stderr.write(f"{quarter} report ({fmt}, {origin}) written to {path} ({len(content):,} bytes)")
