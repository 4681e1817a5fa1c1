"""Jobs whose process died are failed with a reason and their files removed; the cleanup
task also removes old export files."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from carebiz.db import utcnow
from carebiz.jobs import submit
from carebiz.models import Job
from carebiz.models.job import QUEUED, RUNNING
from tests.conftest import seed, token_for
from tests.support.processes import carebiz_env, need_posix_processes, run_cli, running
from tests.test_worker_identity import probe_app, worker_env

REASON = "The process running this job stopped"


def add_job(app: Any, **values: Any) -> str:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        job = Job(id=uuid.uuid4().hex, **{"params": {}, **values})
        sess.add(job)
        sess.commit()
        return job.id


def get_job(app: Any, job_id: str) -> Job | None:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return sess.get(Job, job_id)


def stored_upload(app: Any) -> Path:
    from carebiz.crm.importing import store_upload, uploads_folder

    name = store_upload(app.instance_path, b"name,phone\nA,13800138000\n", "x.csv")
    return uploads_folder(app.instance_path) / name


def export_file(app: Any, age_days: float) -> Path:
    from carebiz.export.service import exports_folder

    path = exports_folder(app) / f"{uuid.uuid4().hex}.csv"
    path.write_text("a,b\n")
    then = time.time() - age_days * 86400
    os.utime(path, (then, then))
    return path


def purge(app: Any) -> dict[str, Any]:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        job = submit(sess, "core.purge_jobs", {}, app=app)
    done = get_job(app, job.id)
    assert done.status == "finished", done.error
    return done.result


def test_purge_fails_dead_jobs_and_removes_their_files_and_old_exports(app, seeded):
    now = utcnow()
    user = seeded["users"]["manager"]
    dead_upload, live_upload = stored_upload(app), stored_upload(app)
    dead = add_job(app, task="crm.import", status=RUNNING, created_by=user,
                   params={"upload": dead_upload.name, "dry_run": True},
                   started_at=now - dt.timedelta(minutes=10),
                   heartbeat_at=now - dt.timedelta(minutes=5),
                   lease_until=now - dt.timedelta(minutes=3), runner="web-1 pid 4242")
    # a job from before leases existed, started long ago: dead too
    legacy = add_job(app, task="core.export", status=RUNNING, created_by=user,
                     started_at=now - dt.timedelta(hours=3))
    live = add_job(app, task="crm.import", status=RUNNING, created_by=user,
                   params={"upload": live_upload.name, "dry_run": True},
                   started_at=now - dt.timedelta(minutes=10), heartbeat_at=now,
                   lease_until=now + dt.timedelta(minutes=2), runner="web-2 pid 1")
    old_export, new_export = export_file(app, 40), export_file(app, 1)
    # a finished export kept past its time: the job goes, and its file with it
    kept_file = export_file(app, 0)
    old_job = add_job(app, task="core.export", status="finished", created_by=user,
                      finished_at=now - dt.timedelta(days=31),
                      result={"file": kept_file.name, "filename": "x.csv",
                              "mimetype": "text/csv"})

    result = purge(app)

    job = get_job(app, dead)
    assert job.status == "failed" and job.finished_at is not None
    assert job.error.startswith(REASON) and "web-1 pid 4242" in job.error
    assert not dead_upload.exists()
    assert get_job(app, legacy).status == "failed"
    assert get_job(app, live).status == RUNNING and live_upload.exists()
    assert get_job(app, old_job) is None and not kept_file.exists()
    assert not old_export.exists() and new_export.exists()
    assert result == {"dead": 2, "deleted": 1, "files": 2}


def test_a_dead_job_is_reported_failed_when_looked_at(app, seeded):
    """Where no worker sweeps (thread backend), the job page and the API find out."""
    now = utcnow()
    dead = add_job(app, task="core.export", status=RUNNING,
                   created_by=seeded["users"]["sales"], started_at=now,
                   heartbeat_at=now - dt.timedelta(minutes=5),
                   lease_until=now - dt.timedelta(minutes=1), runner="web-1 pid 7")
    client = app.test_client()
    headers = {"Authorization": "Bearer " + token_for(app, "sales")}
    body = client.get(f"/api/v1/jobs/{dead}", headers=headers).get_json()
    assert body["status"] == "failed" and body["error"].startswith(REASON)


def test_job_finished_signal_is_sent_for_a_dead_job(app, seeded):
    from carebiz.jobs.cleanup import sweep_dead
    from carebiz.signals import core as signals

    seen = []

    def receiver(_sender: Any, **payload: Any) -> None:
        seen.append(payload)

    signals.job_finished.connect(receiver, weak=False)
    try:
        now = utcnow()
        dead = add_job(app, task="core.export", status=RUNNING, started_at=now,
                       lease_until=now - dt.timedelta(seconds=1))
        assert sweep_dead(app) == [dead]
        assert sweep_dead(app) == []  # once
    finally:
        signals.job_finished.disconnect(receiver)
    assert seen == [{"job_id": dead, "task": "core.export", "status": "failed"}]


def test_a_job_killed_with_its_worker_is_failed_by_the_next_worker(make_app, fake_dists):
    """A real ``carebiz worker`` runs a job that hangs, renews its lease while it runs, and is
    killed with SIGKILL: the job stays "running" until the next worker starts, which fails
    it with the reason and removes the job's file."""
    need_posix_processes()
    app = probe_app(make_app, fake_dists)
    user = seed(app)["users"]["admin"]
    from tests.support.probe_plugin import probe_folder

    upload = probe_folder(app) / "upload.csv"
    upload.write_text("name\nA\n")
    job_id = add_job(app, task="probe.hang", status=QUEUED, created_by=user,
                     params={"name": upload.name})
    env = worker_env(app, fake_dists, CAREBIZ_JOB_QUEUE="thread", CAREBIZ_JOB_LEASE="1")
    log = Path(app.instance_path) / "worker.log"
    with running(env, "worker", "--burst", log=log) as proc:
        marker = probe_folder(app) / "upload.csv.running"
        deadline = time.monotonic() + 90
        while not marker.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        assert marker.exists(), log.read_text()
        first = get_job(app, job_id)
        assert first.status == RUNNING and first.runner.endswith(f"pid {marker.read_text()}")
        while get_job(app, job_id).heartbeat_at <= first.heartbeat_at:  # it renews its lease
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert get_job(app, job_id).status == RUNNING  # nobody told the database
    time.sleep(1.2)  # the lease runs out
    run_cli(carebiz_env(Path(app.instance_path), fake_dists.root, CAREBIZ_PLUGINS="probe",
                        CAREBIZ_DATABASE_URL=app.config["CAREBIZ_DATABASE_URL"],
                        CAREBIZ_JOB_QUEUE="thread"), "worker", "--burst")
    job = get_job(app, job_id)
    assert job.status == "failed" and job.error.startswith(REASON), job.error
    assert f"pid {marker.read_text()}" in job.error
    assert not upload.exists()


def test_on_sqlite_a_locked_database_leaves_the_job_to_a_later_sweep(app, seeded):
    """A locked SQLite file may be the "dead" job itself writing (its heartbeats wait behind
    its own transaction): the sweep does not wait for the lock, and fails nothing."""
    from carebiz.jobs.cleanup import sweep_dead

    engine = app.extensions["carebiz"].engine
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite locks the whole database for a writer")
    now = utcnow()
    job_id = add_job(app, task="core.export", status=RUNNING, started_at=now,
                     lease_until=now - dt.timedelta(seconds=1))
    with engine.connect() as writer:
        writer.exec_driver_sql("BEGIN IMMEDIATE")  # what a running task's writes do
        try:
            assert sweep_dead(app) == []
        finally:
            writer.rollback()
    assert get_job(app, job_id).status == RUNNING
    assert sweep_dead(app) == [job_id]  # once the writer is gone
