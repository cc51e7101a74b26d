"""``manage.py programme overdue [--days N] [--json]``: systems overdue, or due within N days, per
drill kind (the dashboard's list, for scripts and pipelines)."""

import json

from django.core.management.base import BaseCommand

from programme.cadence import DueStatus, due_items


class Command(BaseCommand):
    help = "The DR programme from the command line."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        overdue = sub.add_parser("overdue", help="systems overdue or due soon, per drill kind")
        overdue.add_argument("--days", type=int, default=None,
                             help="also list what is due within this many days (default DRDRILL_DUE_SOON_DAYS, 30)")
        overdue.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args, **options) -> None:
        items = due_items(within_days=options["days"])
        if options["json"]:
            self.stdout.write(json.dumps({
                "overdue": [i.as_json() for i in items if i.status == DueStatus.OVERDUE],
                "due_soon": [i.as_json() for i in items if i.status == DueStatus.DUE_SOON],
            }, indent=2))
            return
        if not items:
            self.stdout.write("Nothing is overdue or due soon.")
        for item in items:
            when = (f"OVERDUE by {item.days} d" if item.status == DueStatus.OVERDUE else f"due in {item.days_left} d")
            self.stdout.write(f"{when:>18}  {item.due_on}  T{item.system.tier} {item.system.slug:30} {item.kind}")
