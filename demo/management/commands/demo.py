"""``manage.py demo``: load the demo system, its runbooks, an admin user and the demo estate with its
sample history (idempotent: creates only what is missing)."""

from django.core.management.base import BaseCommand

from demo.seed import seed


class Command(BaseCommand):
    help = "Load the demo orders system, its example runbooks, an admin user and the demo estate (sample data)."

    def handle(self, *args, **options) -> None:
        report, password, estate = seed()
        self.stdout.write(f"Demo data: {report.summary()}")
        self.stdout.write(f"Demo estate: {estate.summary()}")
        if password:
            self.stdout.write(f"Admin user created: admin / {password}")
