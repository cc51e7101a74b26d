"""Granting and revoking roles: announced with ``role_changed``, which the audit trail records in the
same transaction, like every other change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q

from .roles import Role, roles_of
from .signals import role_changed


def role_granters(limit: int = 10) -> list[Any]:
    """The people who may grant roles (administrators), for the page a person without one sees."""
    return list(get_user_model().objects.filter(is_active=True)
                .filter(Q(is_superuser=True) | Q(groups__name=Role.ADMIN.value)).distinct()
                .order_by("username")[:limit])


def grant_role(*, user: Any, role: Role, actor: Any) -> bool:
    with transaction.atomic():
        before = sorted(r.value for r in roles_of(user))
        group, _ = Group.objects.get_or_create(name=role.value)
        if user.groups.filter(pk=group.pk).exists():
            return False
        user.groups.add(group)
        user.__dict__.pop("_drdrill_roles", None)
        role_changed.send(sender=Group, user=user, role=role, granted=True, actor=actor, before=before,
                          after=sorted({*before, role.value}))
    return True


def revoke_role(*, user: Any, role: Role, actor: Any) -> bool:
    with transaction.atomic():
        before = sorted(r.value for r in roles_of(user))
        group = Group.objects.filter(name=role.value).first()
        if group is None or not user.groups.filter(pk=group.pk).exists():
            return False
        user.groups.remove(group)
        user.__dict__.pop("_drdrill_roles", None)
        role_changed.send(sender=Group, user=user, role=role, granted=False, actor=actor, before=before,
                          after=sorted(set(before) - {role.value}))
    return True
