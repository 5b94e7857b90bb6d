"""Sending one message: e-mail over SMTP (the standard library's client) or a chat webhook
(Slack, Mattermost and Teams incoming webhooks all accept ``{"text": ...}``)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import httpx

from egress_review.policy import SmtpPolicy, WebhookPolicy


def send_email(smtp: SmtpPolicy, to: str, subject: str, body: str, message_id: str, password: str = "",
               username: str = "") -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = smtp.sender, to, subject
    # a stable Message-ID: a resend after a crash is recognisably the same message to mail clients
    msg["Message-ID"] = f"<{message_id}@sandkasse>"
    msg.set_content(body)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as s:
        if smtp.starttls:
            s.starttls()
        if username:
            s.login(username, password)
        s.send_message(msg)


def send_webhook(hook: WebhookPolicy, text: str, timeout: float = 10.0) -> None:
    r = httpx.post(hook.url, json={"text": text}, timeout=timeout)
    r.raise_for_status()
