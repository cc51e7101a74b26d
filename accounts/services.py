"""Granting and revoking roles: audited like every other change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from audit.services import record

from .roles import Role, roles_of


def grant_role(*, user: Any, role: Role, actor: Any) -> bool:
    with transaction.atomic():
        before = sorted(r.value for r in roles_of(user))
        group, _ = Group.objects.get_or_create(name=role.value)
        if user.groups.filter(pk=group.pk).exists():
            return False
        user.groups.add(group)
        user.__dict__.pop("_drdrill_roles", None)
        record("role.granted", actor=actor, obj=user, summary=f"{role.value} granted to {user.username}",
               before={"roles": before}, after={"roles": sorted({*before, role.value})})
    return True


def revoke_role(*, user: Any, role: Role, actor: Any) -> bool:
    with transaction.atomic():
        before = sorted(r.value for r in roles_of(user))
        group = Group.objects.filter(name=role.value).first()
        if group is None or not user.groups.filter(pk=group.pk).exists():
            return False
        user.groups.remove(group)
        user.__dict__.pop("_drdrill_roles", None)
        record("role.revoked", actor=actor, obj=user, summary=f"{role.value} revoked from {user.username}",
               before={"roles": before}, after={"roles": sorted(set(before) - {role.value})})
    return True
