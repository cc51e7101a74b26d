"""``manage.py demo``: load the demo system, its runbooks, an admin user and the demo estate with its
sample history (idempotent: creates only what is missing)."""

from django.core.management.base import BaseCommand, CommandParser

from demo.seed import seed


class Command(BaseCommand):
    help = "Load the demo orders system, its example runbooks, an admin user and the demo estate (sample data)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-admin", action="store_true",
                            help="create no admin user (a deployment creates its own: manage.py createsuperuser)")

    def handle(self, *args, **options) -> None:
        report, password, estate = seed(create_admin=not options["no_admin"])
        self.stdout.write(f"Demo data: {report.summary()}")
        self.stdout.write(f"Demo estate: {estate.summary()}")
        if password:
            self.stdout.write(f"Admin user created: admin / {password}")
