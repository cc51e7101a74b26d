"""``manage.py roles grant|revoke USERNAME ROLE`` and ``roles list``: role changes from a shell,
written to the audit trail like those made in the admin."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.roles import Role, roles_of
from accounts.services import grant_role, revoke_role


class Command(BaseCommand):
    help = "Grant, revoke and list drdrill roles: " + ", ".join(r.value for r in Role)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        for verb in ("grant", "revoke"):
            p = sub.add_parser(verb)
            p.add_argument("username")
            p.add_argument("role", choices=[r.value for r in Role])
        sub.add_parser("list")

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if options["verb"] == "list":
            for user in User.objects.order_by("username").prefetch_related("groups"):
                roles = ", ".join(sorted(r.value for r in roles_of(user))) or "(no role)"
                self.stdout.write(f"{user.username}: {roles}")
            return
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}; create it first (manage.py createsuperuser or the admin)")
        role = Role(options["role"])
        actor = f"cli:{__import__('getpass').getuser()}"
        if options["verb"] == "grant":
            changed = grant_role(user=user, role=role, actor=actor)
            self.stdout.write(f"{role.value} {'granted to' if changed else 'already held by'} {user.username}")
        else:
            changed = revoke_role(user=user, role=role, actor=actor)
            self.stdout.write(f"{role.value} {'revoked from' if changed else 'was not held by'} {user.username}")
