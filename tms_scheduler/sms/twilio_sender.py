"""Texts through Twilio's own SDK; `TWILIO_API_URL` points it at another host (a mock in tests)."""
from __future__ import annotations

import logging

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .sender import TOO_MANY_REQUESTS, Outgoing, SendFailed

# Seconds to wait for Twilio before treating the send as failed (and trying again later).
TIMEOUT_SECONDS = 10
# The SDK's own request log would name the recipient and the text: keep it to warnings.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class TwilioSender:
    name = "twilio"

    def __init__(self, *, account_sid: str, auth_token: str, api_url: str, from_number: str | None = None,
                 messaging_service_sid: str | None = None, timeout: float = TIMEOUT_SECONDS):
        if not (from_number or messaging_service_sid):
            raise ValueError("a sender needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        # The environment's proxy settings (HTTPS_PROXY, NO_PROXY) for Twilio's host, read once here
        # rather than on every send as requests would: the same proxies, without scanning the
        # environment for each text.
        http = TwilioHttpClient(timeout=timeout, proxy=requests.utils.get_environ_proxies(api_url))
        http.session.trust_env = False
        self._client = Client(account_sid, auth_token, http_client=http)
        self._client.api.base_url = api_url
        self._from = from_number
        self._service = messaging_service_sid

    def send(self, text: Outgoing) -> str:
        sender = {"messaging_service_sid": self._service} if self._service else {"from_": self._from}
        try:
            message = self._client.messages.create(to=text.to, body=text.body, status_callback=text.status_callback,
                                                   **sender)
        except TwilioRestException as exc:
            # 401: the credentials are refused; tried again too, as a fixed setting lets the text go
            # rather than failing a whole day's reminders at once.
            transient = exc.status >= 500 or exc.status in (401, 429) or exc.code == TOO_MANY_REQUESTS
            raise SendFailed(f"Twilio answered {exc.status} (error {exc.code})", code=exc.code,
                             retry=transient) from None
        except (requests.RequestException, TwilioException) as exc:
            raise SendFailed(f"no answer from Twilio: {exc.__class__.__name__}", retry=True) from None
        if not message.sid:
            raise SendFailed("Twilio answered without a message sid", retry=True)
        return str(message.sid)
