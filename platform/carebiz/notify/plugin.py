"""The notify service's default plugin: its tables, the in-app and e-mail channels, the
bell and ``/notifications`` page, the API (with the gateways' inbound endpoint), and the
jobs that deliver notices after commit and retry the failed ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from carebiz import hookimpl
from carebiz.contributions import (
    EventReceiver,
    NotificationChannel,
    ScheduledJob,
    SettingSpec,
    Task,
)


@hookimpl
def init_app(app: Flask) -> None:
    from carebiz.notify import views

    views.install(app)  # the bell's count for base.html


@hookimpl
def models() -> list[type]:
    from carebiz.notify.models import NOTIFY_MODELS

    return list(NOTIFY_MODELS)


@hookimpl
def web_blueprints() -> list[Any]:
    from carebiz.notify import views

    return [views.bp]


@hookimpl
def api_blueprints() -> list[Any]:
    from carebiz.notify.api import blp

    return [blp]


@hookimpl
def notification_channels() -> list[NotificationChannel]:
    from carebiz.notify.channels import EMAIL_CHANNEL, INAPP_CHANNEL

    return [INAPP_CHANNEL, EMAIL_CHANNEL]


@hookimpl
def settings() -> list[SettingSpec]:
    return [SettingSpec("core.notifications_keep_days", 90,
                        _l("Days to keep read notifications and sent e-mails' records"),
                        type="int", weight=51)]


@hookimpl
def tasks() -> list[Task]:
    from carebiz.notify.jobs import deliver, purge, retry

    return [
        Task("core.notify.deliver", _l("Deliver notifications"), deliver),
        Task("core.notify.retry", _l("Retry notifications that could not be delivered"),
             retry, permission="admin.settings"),
        Task("core.notify.purge", _l("Delete old notifications"), purge,
             permission="admin.settings"),
    ]


@hookimpl
def scheduled_jobs() -> list[ScheduledJob]:
    return [
        ScheduledJob("core.notify.retry.minutely", "core.notify.retry", dt.timedelta(minutes=1)),
        ScheduledJob("core.notify.purge.daily", "core.notify.purge", dt.timedelta(days=1)),
    ]


@hookimpl
def event_receivers() -> list[EventReceiver]:
    from carebiz.notify.jobs import queue_deliveries
    from carebiz.notify.signals import deliveries_queued

    return [EventReceiver(deliveries_queued, queue_deliveries, name="core.notify.queue")]
