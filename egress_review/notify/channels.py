"""Sending one message: e-mail over SMTP (the standard library's client) or a chat webhook
(Slack, Mattermost and Teams incoming webhooks all accept ``{"text": ...}``)."""

from __future__ import annotations

import httpx

from egress_review.policy import SmtpPolicy, WebhookPolicy
from sandkasse import mail


def send_email(smtp: SmtpPolicy, to: str, subject: str, body: str, message_id: str, password: str = "",
               username: str = "") -> None:
    mail.send_email(smtp, to, subject, body, message_id, password=password, username=username)


def send_webhook(hook: WebhookPolicy, text: str, timeout: float = 10.0) -> None:
    r = httpx.post(hook.url, json={"text": text}, timeout=timeout)
    r.raise_for_status()
