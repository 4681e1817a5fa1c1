"""Jobs run by a real ``carebiz worker`` process each run as their own submitter, in an app
context, DB session and ``g`` of their own, never the CLI's or an earlier job's."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from carebiz.models import Job
from carebiz.models.job import QUEUED
from tests.conftest import seed
from tests.support.processes import carebiz_env, need_posix_processes, run_cli

#: submitters of the jobs, in the order they are queued (None: a job of nobody, as scheduled)
SUBMITTERS = ["admin", "viewer", None, "viewer", "admin"]


def probe_app(make_app: Any, fake_dists: Any, **config: Any) -> Any:
    fake_dists.dist("carebiz-probe", {"probe": "tests.support.probe_plugin"})
    return make_app(CAREBIZ_PLUGINS="probe", **config)


def worker_env(app: Any, fake_dists: Any, **settings: str) -> dict[str, str]:
    return carebiz_env(Path(app.instance_path), fake_dists.root, CAREBIZ_PLUGINS="probe",
                       CAREBIZ_DATABASE_URL=app.config["CAREBIZ_DATABASE_URL"], **settings)


def results(app: Any, ids: list[str]) -> list[Job]:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return [sess.get(Job, job_id) for job_id in ids]


def check(jobs: list[Job], users: dict[str, int]) -> None:
    pids = set()
    for job, name in zip(jobs, SUBMITTERS, strict=True):
        assert job.status == "finished", job.error
        got = job.result
        assert got["user_id"] == (users[name] if name else None)
        assert (got["current_user"], got["ctx_user"], got["actor"]) == (name, name, name), got
        assert got["g_seen"] is None and got["session_seen"] is None, got  # nothing left over
        pids.add(got["pid"])
    assert len(pids) == 1  # one worker process ran them all, one after the other


def test_worker_runs_each_table_job_as_its_submitter(make_app, fake_dists):
    """The in-process queue: jobs left queued in the table (e.g. by a web process that
    stopped) are run by ``carebiz worker --burst``."""
    need_posix_processes()
    app = probe_app(make_app, fake_dists)
    users = seed(app)["users"]
    ids = []
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        for name in SUBMITTERS:
            job = Job(id=uuid.uuid4().hex, task="probe.whoami", params={}, status=QUEUED,
                      created_by=users[name] if name else None)
            sess.add(job)
            sess.commit()  # one by one: the worker runs them in the order they were queued
            ids.append(job.id)
    run_cli(worker_env(app, fake_dists, CAREBIZ_JOB_QUEUE="thread"), "worker", "--burst")
    check(results(app, ids), users)


def redis_url() -> str | None:
    url = os.environ.get("CAREBIZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
    try:
        from redis import Redis

        Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception:
        return None
    return url


@pytest.mark.redis
def test_rq_worker_runs_each_job_as_its_submitter(make_app, fake_dists):
    need_posix_processes()
    url = redis_url()
    if url is None:
        pytest.skip("no Redis server answers (set CAREBIZ_TEST_REDIS_URL)")
    queue = f"carebiz-test-{os.getpid()}-{time.monotonic_ns()}"
    app = probe_app(make_app, fake_dists, CAREBIZ_JOB_QUEUE="rq", CAREBIZ_REDIS_URL=url,
                    CAREBIZ_RQ_QUEUE=queue)
    users = seed(app)["users"]
    from carebiz.jobs import submit

    ids = []
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        for name in SUBMITTERS:
            ids.append(submit(sess, "probe.whoami", {}, user_id=users[name] if name else None,
                              app=app).id)
    backend = app.extensions["carebiz"].job_backend
    try:
        run_cli(worker_env(app, fake_dists, CAREBIZ_JOB_QUEUE="rq", CAREBIZ_REDIS_URL=url,
                           CAREBIZ_RQ_QUEUE=queue), "worker", "--burst")
        check(results(app, ids), users)
    finally:
        backend.queue().delete(delete_jobs=True)
