"""Who may do what. Roles are Django groups named after them; each grants capabilities, and every
view, htmx endpoint and command that acts for a person asks for one capability.

A signed-in user with no role sees nothing: access is granted, never assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class Capability(StrEnum):
    VIEW = "view"                # read systems, runbooks, drills, reports
    PARTICIPATE = "participate"  # confirm manual steps, tick checklist items, write lessons
    COORDINATE = "coordinate"    # import runbooks, start, abort, retry and skip drills
    APPROVE = "approve"          # approve or reject gates and production starts
    AUDIT = "audit"              # read and export the audit trail
    SIGN_OFF = "sign_off"        # sign off post-drill reports; confirm a deficiency's fix as its second person
    ADMINISTER = "administer"    # grant roles


class Role(StrEnum):
    VIEWER = "viewer"
    PARTICIPANT = "participant"
    COORDINATOR = "coordinator"
    APPROVER = "approver"
    REVIEWER = "reviewer"        # the named reviewer (a system owner, internal audit) who signs reports off
    ADMIN = "admin"


ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.VIEWER: frozenset({Capability.VIEW}),
    Role.PARTICIPANT: frozenset({Capability.VIEW, Capability.PARTICIPATE}),
    Role.COORDINATOR: frozenset({Capability.VIEW, Capability.PARTICIPATE, Capability.COORDINATE, Capability.AUDIT}),
    Role.APPROVER: frozenset({Capability.VIEW, Capability.APPROVE, Capability.AUDIT}),
    Role.REVIEWER: frozenset({Capability.VIEW, Capability.SIGN_OFF, Capability.AUDIT}),
    Role.ADMIN: frozenset(Capability),
}


# What each capability lets a person do, in the words a refusal uses.
CAPABILITY_WORDS: dict[Capability, str] = {
    Capability.VIEW: "see systems, runbooks and drills",
    Capability.PARTICIPATE: "confirm steps and write lessons",
    Capability.COORDINATE: "import runbooks and start or stop drills",
    Capability.APPROVE: "approve gates and production drills",
    Capability.AUDIT: "read the audit trail",
    Capability.ADMINISTER: "change the inventory and grant roles",
    Capability.SIGN_OFF: "sign off post-drill reports and confirm a deficiency's fix",
}


def roles_with(capability: Capability) -> list[str]:
    return [role.value for role in Role if capability in ROLE_CAPABILITIES[role]]


def roles_of(user: Any) -> set[Role]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return {Role.ADMIN}
    cached = getattr(user, "_drdrill_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = {role for role in Role if role.value in names}
        user._drdrill_roles = cached
    return cached


def capabilities_of(user: Any) -> frozenset[Capability]:
    granted: set[Capability] = set()
    for role in roles_of(user):
        granted |= ROLE_CAPABILITIES[role]
    return frozenset(granted)


def user_can(user: Any, capability: Capability) -> bool:
    return capability in capabilities_of(user)


def check(user: Any, capability: Capability, doing: str) -> None:
    """Raise PermissionDenied with a message naming the missing capability."""
    if not user_can(user, capability):
        who = getattr(user, "username", None) or "this user"
        raise PermissionDenied(f"{who} may not {doing}: that takes the {' or '.join(roles_with(capability))} role, "
                               "which an administrator grants.")


View = TypeVar("View", bound=Callable[..., HttpResponse])


def requires(capability: Capability) -> Callable[[View], View]:
    """Decorate a view with the one capability it needs. The permission-matrix test reads
    ``required_capability`` off every URL's view, so a view without a rule fails the suite."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not user_can(request.user, capability):
                raise PermissionDenied(f"Your role does not let you {CAPABILITY_WORDS[capability]}: that takes the "
                                       f"{' or '.join(roles_with(capability))} role. An administrator grants roles.")
            return view(request, *args, **kwargs)

        guarded.required_capability = capability  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate
