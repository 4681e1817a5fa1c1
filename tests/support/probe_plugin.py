"""A plugin for tests that run real worker processes: tasks that report what they run as,
and one that hangs until its process is killed.

Installed through a fake distribution (``carebiz.testing.dists``) whose folder is also on the
child process's ``PYTHONPATH``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from carebiz import hookimpl
from carebiz.contributions import Task
from carebiz.plugins import PluginManifest

manifest = PluginManifest(name="probe", version="1.0", label="Probe",
                          description="Tests: jobs that tell who they run as")

#: how long ``probe.hang`` waits before giving up (its process is meant to be killed first)
HANG_SECONDS = 120


def whoami(ctx: Any) -> dict[str, Any]:
    """Who the job runs as, and whether anything of an earlier job is still around."""
    from flask import g
    from flask_login import current_user

    from carebiz import db

    g_seen = g.get("probe_job")
    g.probe_job = ctx.job_id
    sess = db.session()
    session_seen = sess.info.get("probe_job")
    sess.info["probe_job"] = ctx.job_id
    with ctx.app.test_request_context():
        user = current_user._get_current_object()
        acting = user.username if user.is_authenticated else None
    ctx_user = getattr(ctx, "user", None)
    return {"user_id": ctx.user_id, "current_user": acting,
            "ctx_user": ctx_user.username if ctx_user is not None else None,
            "actor": getattr(ctx.session.info.get("actor"), "username", None),
            "g_seen": g_seen, "session_seen": session_seen, "pid": os.getpid()}


def probe_folder(app: Any) -> Path:
    folder = Path(app.instance_path) / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def hang(ctx: Any, name: str) -> dict[str, Any]:
    """Say it runs (a file ``<name>.running``), then wait to be killed."""
    (probe_folder(ctx.app) / f"{name}.running").write_text(str(os.getpid()))
    deadline = time.monotonic() + HANG_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return {"hung": True}


def hang_files(app: Any, job: Any) -> list[Path]:
    """The job's own file (like an import's stored upload)."""
    return [probe_folder(app) / str((job.params or {}).get("name", "none"))]


@hookimpl
def tasks() -> list[Task]:
    return [Task("probe.whoami", "Who am I", whoami),
            Task("probe.hang", "Hang until killed", hang, files=hang_files)]
