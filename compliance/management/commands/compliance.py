"""``manage.py compliance controls`` lists the control catalogue as configured (the frameworks
followed, what each control asks for); ``manage.py compliance drill ID`` lists the controls a drill's
evidence supports; ``manage.py compliance delete-drill ID --user NAME`` deletes a drill whose
retention period is over (refused, and audited, inside it)."""

from __future__ import annotations

import getpass
import socket

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.context import audit_origin
from compliance.catalogue import CatalogueError, catalogue
from compliance.evidence import Support, controls_supported, evidence_of
from compliance.retention import RetentionRefused, delete_drill
from drills.models import Drill


class Command(BaseCommand):
    help = "The control catalogue, the controls a drill supports, and deleting drills past their retention."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("controls", help="the catalogue as configured")
        drill = sub.add_parser("drill", help="the controls a drill's evidence supports")
        drill.add_argument("drill", type=int)
        delete = sub.add_parser("delete-drill", help="delete a drill whose retention period is over")
        delete.add_argument("drill", type=int)
        delete.add_argument("--user", required=True, help="the administrator deleting it (audited)")

    def handle(self, *args, verb: str, **options) -> None:
        try:
            cat = catalogue()
        except CatalogueError as error:
            raise CommandError(str(error)) from None
        if verb == "controls":
            for key, name in cat.frameworks.items():
                self.stdout.write(f"{key}: {name}")
                for control in (c for c in cat.controls if c.framework == key):
                    self.stdout.write(f"  {control.id:28} {control.reference:30} every {control.every_months:>2} months · "
                                      f"{control.asks_for}")
            return
        drill = Drill.objects.filter(pk=options["drill"]).first()
        if drill is None:
            raise CommandError(f"no drill #{options['drill']}")
        if verb == "drill":
            evidence = evidence_of([drill])[drill.pk]
            self.stdout.write(f"drill #{drill.pk}: {evidence.test_type.label}; evidence: {', '.join(sorted(evidence.facts)) or 'none'}")
            for s in controls_supported(evidence, cat):
                if s.support != Support.NO:
                    missing = f" (lacks {', '.join(s.missing)})" if s.missing else ""
                    self.stdout.write(f"  {s.support:8} {s.control.reference}: {s.control.title}{missing}")
            return
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}")
        try:
            with audit_origin(f"cli:{getpass.getuser()}@{socket.gethostname()}"):
                delete_drill(drill=drill, user=user)
        except (RetentionRefused, PermissionDenied) as refusal:
            raise CommandError(str(refusal)) from None
        self.stdout.write(f"deleted drill #{options['drill']}")
