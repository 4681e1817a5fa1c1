"""The background side of notifications: a job per batch of new deliveries (submitted after
the sender's commit), a minutely retry of the failed ones, a daily purge."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from carebiz.jobs import JobContext, submit
from carebiz.notify import service

log = logging.getLogger(__name__)


def queue_deliveries(sender: Flask, delivery_ids: list[int], **_: Any) -> None:
    """Receiver of ``notification.queued``: hand the new deliveries to the job system. Should
    that fail (the queue's Redis is down), the rows wait and the retry job sends them."""
    factory = sender.extensions["carebiz"].session_factory
    with factory() as session:
        submit(session, "core.notify.deliver", {"ids": list(delivery_ids)}, app=sender)


def deliver(ctx: JobContext, ids: list[int] | None = None) -> dict[str, int]:
    """Deliver the given (or all due) deliveries; each failure is the delivery's, not the
    job's, so the job finishes and says how many were sent and how many wait for a retry."""
    ext = ctx.app.extensions["carebiz"]
    return service.deliver_due(ctx.session, ext.host, ctx.app, ids)


def retry(ctx: JobContext) -> dict[str, int]:
    """Every delivery whose pause after a failure is over (and any a dead runner held)."""
    ext = ctx.app.extensions["carebiz"]
    return service.deliver_due(ctx.session, ext.host, ctx.app)


def purge(ctx: JobContext) -> dict[str, int]:
    from carebiz.services.settings import get as setting

    session = ctx.session
    keep = int(setting(session, ctx.app.extensions["carebiz"].host,
                       "core.notifications_keep_days"))
    gone = service.purge(session, keep)
    session.commit()
    return {"deleted": gone}
