"""Sending one message through a subscription's channel. E-mail goes through Django's e-mail backend
(SMTP settings and credentials from the environment; Django's test outbox sees it); everything else
(Slack, Teams, webhooks, and the rest) through Apprise, which speaks them all."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from django.core.mail import EmailMessage

from .models import Subscription

_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
SEND_TIMEOUT_SECONDS = 20


class DeliveryFailed(Exception):
    """The channel refused or could not take the message; the text says what it answered."""


def addresses(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


def check_address(channel: str, address: str) -> str | None:
    """What is wrong with an address, for the form; None when it is usable."""
    if channel == Subscription.Channel.EMAIL:
        wrong = [a for a in addresses(address) if not _EMAIL.match(a)]
        if not addresses(address):
            return "Give at least one e-mail address."
        return f"Not an e-mail address: {', '.join(wrong)}." if wrong else None
    import apprise

    parts = urlsplit(address)
    if parts.password and not _REFERENCE.fullmatch(parts.password):
        return ("Secrets are never stored: put the password in an environment variable of the workers and write "
                "${NAME} in its place.")
    if not apprise.Apprise().add(resolve(address, strict=False)):
        return "Apprise does not recognise this URL (see its list of services, e.g. json://host/path, slack://…)."
    return None


def resolve(url: str, *, strict: bool = True) -> str:
    """Replace ${NAME} with the worker's environment variable NAME."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in os.environ:
            return os.environ[name]
        if strict:
            raise DeliveryFailed(f"The environment variable {name} this channel refers to is not set on the worker.")
        return "placeholder"

    return _REFERENCE.sub(value, url)


def display_address(subscription: Subscription) -> str:
    """What pages show: e-mail addresses, or an Apprise URL's service and host (its path may hold tokens)."""
    if subscription.channel == Subscription.Channel.EMAIL:
        return subscription.address
    parts = urlsplit(subscription.address)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}/…"


def send(subscription: Subscription, subject: str, body: str) -> None:
    if subscription.channel == Subscription.Channel.EMAIL:
        try:
            EmailMessage(subject, body, to=addresses(subscription.address)).send(fail_silently=False)
        except Exception as error:  # SMTP errors come in many classes; each is a failed delivery
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from None
        return
    import apprise

    sender = apprise.Apprise()
    if not sender.add(resolve(subscription.address)):
        raise DeliveryFailed("Apprise does not recognise this URL.")
    with apprise.LogCapture(level=apprise.logging.WARNING) as log:
        result = sender.notify(body=body, title=subject, timeout=SEND_TIMEOUT_SECONDS)
    if not result:
        raise DeliveryFailed(log.getvalue().strip().splitlines()[-1].split(" - ", 2)[-1] if log.getvalue().strip()
                             else "Apprise could not deliver the message.")
