"""The core's two channels: in-app (rows in ``notification``, read under the navbar's bell)
and e-mail over SMTP (``CAREBIZ_SMTP_*``; off while no host is configured)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from carebiz.contributions import NotificationChannel
from carebiz.notify.notice import Notice

SECURITY = ("none", "starttls", "ssl")


def absolute_link(link: str, app: Flask | None = None) -> str:
    """A notice's link as a message leaving the site must write it: the path behind
    ``CAREBIZ_PUBLIC_URL`` when that is set, else the path as it is."""
    if not link:
        return ""
    base = str((app or current_app).config.get("CAREBIZ_PUBLIC_URL") or "").rstrip("/")
    return f"{base}{link}" if base else link


def email_enabled(app: Flask) -> bool:
    return bool(app.config.get("CAREBIZ_SMTP_HOST"))


def email_message(notice: Notice, address: str, app: Flask) -> EmailMessage:
    """The message sent for ``notice``: plain text, the link on a line of its own."""
    message = EmailMessage()
    message["From"] = str(app.config.get("CAREBIZ_SMTP_SENDER") or "carebiz@localhost")
    message["To"] = address
    message["Subject"] = notice.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="carebiz")
    if notice.importance == "high":
        message["Importance"] = "high"
    body = notice.text
    link = absolute_link(notice.link, app)
    if link:
        body = f"{body}\n\n{link}" if body else link
    message.set_content(body or notice.subject)
    return message


def deliver_email(notice: Notice, address: str) -> None:
    """Send one notice to one address through the configured SMTP server. Raises on any
    failure (the delivery is then retried by the job system)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    host = str(config["CAREBIZ_SMTP_HOST"])
    port = int(config.get("CAREBIZ_SMTP_PORT") or 25)
    timeout = float(config.get("CAREBIZ_SMTP_TIMEOUT") or 10)
    security = str(config.get("CAREBIZ_SMTP_SECURITY") or "none").lower()
    if security not in SECURITY:
        raise ValueError(f"CAREBIZ_SMTP_SECURITY must be one of {', '.join(SECURITY)}")
    smtp: Any
    if security == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        username = config.get("CAREBIZ_SMTP_USERNAME")
        if username:
            smtp.login(str(username), str(config.get("CAREBIZ_SMTP_PASSWORD") or ""))
        smtp.send_message(email_message(notice, address, app))


INAPP_CHANNEL = NotificationChannel("inapp", _l("In the application"), None, address="user",
                                    weight=10)
EMAIL_CHANNEL = NotificationChannel("email", _l("E-mail"), deliver_email, address="email",
                                    enabled=email_enabled, weight=20)
