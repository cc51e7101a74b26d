"""Events announced through signals: sign-ins, sign-outs, failed sign-ins and group membership
changed in the admin (Django's), and roles granted or revoked (accounts'). Each receiver hands the
event to audit.services.record."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.signals import role_changed

from .context import current_actor
from .services import record

User = get_user_model()
# What an account may do, as changed in the Django admin (or anywhere): recorded with who changed it.
WATCHED_USER_FIELDS = ("username", "email", "is_active", "is_staff", "is_superuser")


@receiver(user_logged_in)
def signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record("auth.signed_in", actor=user, obj=user, summary=f"{user.get_username()} signed in")


@receiver(user_logged_out)
def signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record("auth.signed_out", actor=user, obj=user, summary=f"{user.get_username()} signed out")


@receiver(user_login_failed)
def sign_in_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # The credentials dict is already scrubbed of the password by Django.
    username = str(credentials.get("username", ""))[:150]
    record("auth.sign_in_failed", actor="anonymous", summary=f"failed sign-in as {username!r}",
           after={"username": username})


@receiver(m2m_changed, sender=get_user_model().groups.through)
def groups_changed(sender: Any, instance: Any, action: str, pk_set: set[int] | None, **kwargs: Any) -> None:
    if action not in {"post_add", "post_remove", "post_clear"} or not isinstance(instance, get_user_model()):
        return
    from django.contrib.auth.models import Group

    names = sorted(Group.objects.filter(pk__in=pk_set or []).values_list("name", flat=True))
    current = sorted(instance.groups.values_list("name", flat=True))
    record(f"role.{action.removeprefix('post_')}", actor=current_actor(), obj=instance,
           summary=f"groups of {instance.get_username()} changed ({action.removeprefix('post_')}: {', '.join(names) or 'all'})",
           after={"groups": current})


@receiver(role_changed)
def role_granted_or_revoked(sender: Any, user: Any, role: Any, granted: bool, actor: Any, before: list[str],
                            after: list[str], **kwargs: Any) -> None:
    verb, preposition = ("granted", "to") if granted else ("revoked", "from")
    record(f"role.{verb}", actor=actor, obj=user, summary=f"{role.value} {verb} {preposition} {user.username}",
           before={"roles": before}, after={"roles": after})


@receiver(pre_save, sender=User)
def remember_user_before(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.pk is None:
        instance._audit_before = None
        return
    stored = sender.objects.filter(pk=instance.pk).values(*WATCHED_USER_FIELDS, "password").first()
    instance._audit_before = stored


@receiver(post_save, sender=User)
def user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_audit_before", None)
    after = {field: getattr(instance, field) for field in WATCHED_USER_FIELDS}
    if created:
        record("user.created", actor=current_actor(), obj=instance, after=after,
               summary=f"account {instance.get_username()} created" + (" as superuser" if instance.is_superuser else ""))
        return
    if before is None:
        return
    changed = {field: after[field] for field in WATCHED_USER_FIELDS if before[field] != after[field]}
    password_changed = before["password"] != instance.password
    if not changed and not password_changed:
        return  # a sign-in updating last_login, for instance
    words = [f"{field} {before[field]!r} → {value!r}" for field, value in changed.items()]
    if password_changed:
        words.append("password changed")
    record("user.changed", actor=current_actor(), obj=instance,
           before={field: before[field] for field in changed}, after={**changed, **({"password": "changed"} if password_changed else {})},
           summary=f"account {instance.get_username()}: {', '.join(words)}")


@receiver(post_delete, sender=User)
def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    record("user.deleted", actor=current_actor(), obj=instance,
           before={field: getattr(instance, field) for field in WATCHED_USER_FIELDS},
           summary=f"account {instance.get_username()} deleted")
