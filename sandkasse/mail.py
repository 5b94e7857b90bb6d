"""E-mail over SMTP (the standard library's client), shared by the egress notices and provisioning's
application notices; each keeps its own outbox table and sender loop."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from pydantic import BaseModel, ConfigDict, Field


class SmtpPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "localhost"
    port: int = Field(default=25, gt=0, lt=65536)
    sender: str = "sandkasse@localhost"
    starttls: bool = False
    timeout_seconds: float = Field(default=10.0, gt=0)


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
