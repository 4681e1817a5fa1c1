"""Background jobs: record, progress, failure, the in-process thread backend and rq."""

from __future__ import annotations

import os
import time

import pytest

from carebiz.jobs import submit
from carebiz.models import Job


def _submit(app, task, params=None):
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return submit(sess, task, params or {}, app=app).id


def _job(app, job_id):
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return sess.get(Job, job_id)


def test_inline_job_records_result(sample_app):
    job = _job(sample_app, _submit(sample_app, "sample.count", {"n": 2}))
    assert (job.status, job.progress, job.result) == ("finished", 100, {"counted": 2})
    assert job.started_at <= job.finished_at


def test_failing_job_is_recorded_not_raised(sample_app):
    job = _job(sample_app, _submit(sample_app, "sample.fail"))
    assert job.status == "failed" and "RuntimeError: boom" in job.error


def test_bad_parameters_fail_clearly(sample_app):
    job = _job(sample_app, _submit(sample_app, "sample.count", {"nope": 1}))
    assert job.status == "failed" and job.error.startswith("Bad parameters")


def test_unknown_task(sample_app):
    from carebiz.errors import NotFound

    with pytest.raises(NotFound, match="No background task named 'ghost'"):
        _submit(sample_app, "ghost")


def test_thread_backend_runs_in_background(make_app, fake_dists):
    fake_dists.dist("carebiz-sample", {"sample": "tests.sample_plugin.plugin"})
    app = make_app(CAREBIZ_JOB_QUEUE="thread")
    job_id = _submit(app, "sample.count", {"n": 3})
    deadline = time.monotonic() + 10
    while _job(app, job_id).status != "finished" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _job(app, job_id).result == {"counted": 3}


def test_job_page_and_api_visibility(sample_app, sample_seeded):
    from tests.conftest import login, token_for

    job_id = _submit(sample_app, "sample.count")
    admin = {"Authorization": "Bearer " + token_for(sample_app, "admin")}
    sales = {"Authorization": "Bearer " + token_for(sample_app, "sales")}
    client = sample_app.test_client()
    assert client.get(f"/api/v1/jobs/{job_id}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/jobs/{job_id}", headers=sales).status_code == 404
    login(client, "admin")
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200 and b"progress-bar" in page.data


def redis_url():
    url = os.environ.get("CAREBIZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        from redis import Redis

        Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception:
        return None
    return url


@pytest.mark.redis
def test_rq_backend_and_worker(make_app, fake_dists):
    url = redis_url()
    if url is None:
        pytest.skip("no Redis server answers (set CAREBIZ_TEST_REDIS_URL)")
    fake_dists.dist("carebiz-sample", {"sample": "tests.sample_plugin.plugin"})
    queue = f"carebiz-test-{os.getpid()}-{time.monotonic_ns()}"
    app = make_app(CAREBIZ_JOB_QUEUE="rq", CAREBIZ_REDIS_URL=url, CAREBIZ_RQ_QUEUE=queue)
    job_id = _submit(app, "sample.count", {"n": 5})
    assert _job(app, job_id).status == "queued"
    backend = app.extensions["carebiz"].job_backend
    assert backend.queue().count == 1
    from carebiz.jobs.worker import work

    work(app, burst=True)
    job = _job(app, job_id)
    assert (job.status, job.result) == ("finished", {"counted": 5})
    backend.queue().delete(delete_jobs=True)
