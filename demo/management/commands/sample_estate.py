"""``manage.py sample_estate``: the demo estate (the handbook's BIA and a few more systems) with two
years of sample history. Idempotent: creates only what is missing."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from demo.estate import generate_estate


class Command(BaseCommand):
    help = "Create the demo estate's systems, runbooks and two years of sample drills (marked SAMPLE)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--today", help="end the history on this day (YYYY-MM-DD) instead of today")
        parser.add_argument("--seed", type=int, default=2026, help="random seed of the history (default 2026)")
        parser.add_argument("--no-history", action="store_true", help="systems and runbooks only")

    def handle(self, *args, **options) -> None:
        try:
            today = date.fromisoformat(options["today"]) if options["today"] else None
        except ValueError:
            raise CommandError(f"--today must be a date such as 2026-10-15, got {options['today']!r}") from None
        report = generate_estate(today=today, seed=options["seed"], history=not options["no_history"])
        self.stdout.write(f"Demo estate: {report.summary()}")
