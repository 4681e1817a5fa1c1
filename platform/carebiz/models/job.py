"""Background jobs: a record pages poll for status and progress."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, utcnow

QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"
JOB_STATUSES = (QUEUED, RUNNING, FINISHED, FAILED)
STATUS_LABELS = {QUEUED: _l("Queued"), RUNNING: _l("Running"), FINISHED: _l("Finished"),
                 FAILED: _l("Failed")}


class Job(Base):
    __tablename__ = "job"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task: Mapped[str] = mapped_column(String(120), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(String(500), default="")
    result: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    #: while running, the runner renews its lease (``carebiz.jobs.leases``); a running job
    #: whose lease has passed lost its process (killed, crashed, machine gone)
    heartbeat_at: Mapped[dt.datetime | None]
    lease_until: Mapped[dt.datetime | None]
    #: which process runs it ("host pid 1234"), for the message when that process dies
    runner: Mapped[str | None] = mapped_column(String(200))

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def done(self) -> bool:
        return self.status in (FINISHED, FAILED)
