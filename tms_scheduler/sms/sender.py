"""What the services know of sending a text: a sender, and why a send failed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Twilio's error codes the service acts on.
TOO_MANY_REQUESTS = 20429  # slow down: tried again
UNSUBSCRIBED = 21610  # the number opted out at the carrier: the patient is opted out
INVALID_NUMBER = 21211  # the number cannot take texts: the front desk is told


@dataclass(frozen=True)
class Outgoing:
    to: str  # E.164
    body: str
    status_callback: str | None = None


class SendFailed(Exception):
    """A text that did not go. `retry` says whether trying again later may work (the network, a
    timeout, a 5xx, 20429); `code` is Twilio's error code where it gave one."""

    def __init__(self, reason: str, *, code: int | None = None, retry: bool):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.retry = retry


class Sender(Protocol):
    name: str

    def send(self, text: Outgoing) -> str:
        """Sends the text; answers the provider's message sid, or raises SendFailed."""
        ...
