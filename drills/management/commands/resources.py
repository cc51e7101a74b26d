"""``manage.py resources``: what drills created in the world, and what they left behind.

    resources list [--drill ID] [--all]    resources not yet deleted (--all: deleted ones too)
    resources orphans [--json]            resources tagged by drdrill that no live record accounts for
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from drills.models import DrillResource
from drills.resources import find_orphans


class Command(BaseCommand):
    help = "List the resources drills created (restored databases, snapshots) and find orphans."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        listing = sub.add_parser("list", help="resources not yet deleted")
        listing.add_argument("--drill", type=int)
        listing.add_argument("--all", action="store_true", help="deleted ones too")
        orphans = sub.add_parser("orphans", help="resources tagged by drdrill that no live record accounts for")
        orphans.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["what"] == "list":
            rows = DrillResource.objects.order_by("created_at")
            if options["drill"]:
                rows = rows.filter(drill_id=options["drill"])
            if not options["all"]:
                rows = rows.exclude(status=DrillResource.Status.DELETED)
            for r in rows:
                expires = f" expires {r.expires_at:%Y-%m-%d %H:%M}" if r.expires_at else ""
                self.stdout.write(f"drill {r.drill_id}\t{r.provider}\t{r.kind}\t{r.identifier}\t{r.get_status_display()}{expires}")
            return
        orphans = find_orphans()
        if options["json"]:
            self.stdout.write(json.dumps([{"provider": o.resource.provider, "kind": o.resource.kind,
                                           "identifier": o.resource.identifier, "region": o.resource.region,
                                           "drill": o.drill_id, "reason": o.reason} for o in orphans], indent=2))
            return
        if not orphans:
            self.stdout.write("No orphans: every resource tagged by drdrill belongs to a running drill or is recorded.")
        for o in orphans:
            self.stdout.write(f"ORPHAN {o.resource.provider} {o.resource.kind} {o.resource.identifier}: {o.reason}")
