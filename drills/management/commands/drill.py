"""``manage.py drill run RUNBOOK_SLUG [--dry-run|--tabletop] [--wait] [--json]`` and ``manage.py drill show ID
[--json]``: drills from a pipeline. (The post-drill report and the evidence pack are ``manage.py review``'s.)

The command starts the drill; workers run it. With --wait it follows the drill until it ends and
exits non-zero unless it succeeded. A drill that waits for a person keeps waiting until
--timeout; confirm the step in the UI.
"""

from __future__ import annotations

import getpass
import json
import socket
import time

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.context import audit_origin
from drills.evidence_pack import drill_summary
from drills.models import Drill
from drills.services import DrillActionRefused, drill_start
from runbooks.models import Runbook


class Command(BaseCommand):
    help = "Run a drill of a runbook's latest version (or --version N) and report its result."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        run = sub.add_parser("run", help="start a drill")
        run.add_argument("runbook")
        run.add_argument("--version", type=int, help="runbook version number (default: the latest)")
        modes = run.add_mutually_exclusive_group()
        modes.add_argument("--dry-run", action="store_true", help="run every step's plan(); change nothing")
        modes.add_argument("--tabletop", action="store_true",
                           help="start a tabletop: people walk it in the UI; nothing is executed or measured")
        run.add_argument("--wait", action="store_true", help="follow the drill until it ends")
        run.add_argument("--json", action="store_true", help="print one JSON object with the result")
        run.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most (default 3600)")
        run.add_argument("--user", default=None, help="username the drill is started as (default: the first superuser); "
                         "it needs the coordinator role")
        run.add_argument("--confirm-system", default=None, metavar="NAME",
                         help="a live drill on a production system needs its name typed here, and then an approver's "
                              "approval in the UI before it starts")
        show = sub.add_parser("show", help="a drill's result: figures with value, bound, target and method "
                                          "(a tabletop: its estimates only)")
        show.add_argument("drill", type=int)
        show.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options) -> None:
        try:
            self._run(options)
        except CommandError as refusal:
            if not options["json"]:
                raise
            # A pipeline parses stdout: a refusal is JSON too, and the exit code says it failed.
            self.stdout.write(json.dumps({"status": "refused", "error": str(refusal)}))
            raise SystemExit(1) from None

    def _run(self, options: dict) -> None:
        if options["verb"] == "show":
            drill = Drill.objects.filter(pk=options["drill"]).first()
            if drill is None:
                raise CommandError(f"no drill #{options['drill']}")
            self._report(drill, options["json"])
            return
        runbook = Runbook.objects.filter(slug=options["runbook"]).first()
        if runbook is None:
            raise CommandError(f"no runbook {options['runbook']!r}; import it first (manage.py runbooks import PATH)")
        versions = runbook.versions.all()
        version = versions.filter(number=options["version"]).first() if options["version"] else runbook.latest_version
        if version is None:
            raise CommandError(f"runbook {runbook.slug!r} has no version {options['version']}")
        user = self._user(options["user"])
        mode = Drill.Mode.DRY_RUN if options["dry_run"] else Drill.Mode.TABLETOP if options["tabletop"] else Drill.Mode.LIVE
        try:
            with audit_origin(f"cli:{getpass.getuser()}@{socket.gethostname()}"):
                drill = drill_start(runbook_version=version, user=user, mode=mode, confirmation=options["confirm_system"])
        except (DrillActionRefused, PermissionDenied) as error:
            raise CommandError(str(error)) from None
        if drill.status == Drill.Status.DRAFT:
            self.stderr.write(f"Drill #{drill.pk} waits for an approver to approve its start in the UI.")
        if not options["wait"] or drill.is_tabletop:  # a tabletop ends when its facilitator ends it
            self._report(drill, options["json"])
            return
        deadline = time.monotonic() + options["timeout"]
        while time.monotonic() < deadline:
            drill.refresh_from_db()
            if drill.status in Drill.FINISHED:
                break
            time.sleep(0.5)
        self._report(drill, options["json"])
        if drill.status != Drill.Status.SUCCEEDED:
            raise SystemExit(1)

    def _user(self, username: str | None):
        users = get_user_model().objects
        user = users.filter(username=username).first() if username else users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("no user to start the drill as: create one (manage.py createsuperuser) or pass --user")
        return user

    def _report(self, drill: Drill, as_json: bool) -> None:
        result = drill_summary(drill)
        measurements = {m.kind: m for m in drill.measurements.all()}
        rto, rpo = measurements.get("rto"), measurements.get("rpo")
        if as_json:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"{drill.mode_word.capitalize()} #{drill.pk} {drill.shown_status.label.lower()}: {drill.outcome}")
        for step in result["steps"]:
            self.stdout.write(f"  {step['position']:>2}. {step['status']:<10} {step['name']}" +
                              (f" — {step['error']}" if step["error"] else ""))
            if step.get("plan"):
                self.stdout.write(f"      {step['plan']}")
        if drill.is_dry_run:
            self.stdout.write("  Nothing was changed." + (" A live run would:" if result["a_live_run_would"] else ""))
            for change in result["a_live_run_would"]:
                self.stdout.write(f"    - {change}")
        if drill.is_tabletop:
            estimates = result["estimates"]
            self.stdout.write(f"  Estimated total {estimates['total_minutes']} min, estimated recovery "
                              f"{estimates['recovery_minutes'] if estimates['recovery_minutes'] is not None else '—'} min "
                              "(estimates: a tabletop measures nothing)")
        for m in (rto, rpo):
            if m and not drill.is_tabletop:
                # Say what the bound means: a bare "± 0.12 s" next to "0.12 s" reads as noise.
                bound = (f" ± {m.error_bound_seconds} s (the true value lies between "
                         f"{max(m.value_seconds - m.error_bound_seconds, 0):.2f} s and {m.value_seconds} s)"
                         if m.error_bound_seconds is not None and m.value_seconds is not None
                         else " (no error bound: timed from the steps' marks)")
                lost = f", lost rows: {m.lost_rows}" if m.lost_rows is not None else ""
                self.stdout.write(f"  {m.get_kind_display()} {m.value_seconds} s{bound} (target {m.target_seconds} s, "
                                  f"met: {m.met}{lost}; {m.method})")
