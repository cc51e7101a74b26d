"""``manage.py demo``: load the demo system, its runbooks and an admin user (idempotent)."""

from django.core.management.base import BaseCommand

from demo.seed import seed


class Command(BaseCommand):
    help = "Load the demo orders system, its example runbooks and an admin user."

    def handle(self, *args, **options) -> None:
        report, password = seed()
        self.stdout.write(f"Demo data: {report.summary()}")
        if password:
            self.stdout.write(f"Admin user created: admin / {password}")
