"""A job and its result are its submitter's and the administrators' only: another user,
even a manager, gets 404 on the job page, the job API, the import report and the download."""

from __future__ import annotations

from typing import Any

import pytest

from carebiz.jobs import submit
from tests.conftest import PASSWORD, login, token_for

OWNER, OTHER, ADMIN = "manager", "branch-manager", "admin"


@pytest.fixture
def jobs(app: Any, seeded: dict[str, Any]) -> dict[str, str]:
    """A dry run of an import (its report names customers) and a finished export, both by
    the company-wide manager; a manager of branch B only is the other user."""
    from carebiz.crm.importing import store_upload
    from carebiz.crm.services.parties import create_party
    from carebiz.services.users import create_user

    ext = app.extensions["carebiz"]
    owner = seeded["users"][OWNER]
    with app.app_context(), ext.session_factory() as sess:
        create_user(sess, OTHER, PASSWORD, roles=["manager"], branches=["B"])
        create_party(sess, {"name": "王小明", "branch_id": seeded["branches"]["A"],
                            "phones": ["13800138000"]})
        sess.commit()
        # the report names the customer on file that the row's phone matches
        upload = store_upload(app.instance_path, "name,phone,branch\n王明,13800138000,A\n"
                              .encode(), "people.csv")
        dry_run = submit(sess, "crm.import", {"upload": upload, "dry_run": True,
                                              "filename": "people.csv", "locale": "en"},
                         user_id=owner, app=app)
        export = submit(sess, "core.export", {"table": "crm.customers", "format": "csv",
                                              "args": {}, "locale": "en"},
                        user_id=owner, app=app)
    return {"import": dry_run.id, "export": export.id}


def answers(app: Any, username: str, jobs: dict[str, str]) -> dict[str, int]:
    client = app.test_client()
    assert login(client, username).status_code == 302
    api = app.test_client()
    headers = {"Authorization": "Bearer " + token_for(app, username)}
    imp, exp = jobs["import"], jobs["export"]
    return {
        "page": client.get(f"/jobs/{imp}").status_code,
        "api": api.get(f"/api/v1/jobs/{imp}", headers=headers).status_code,
        "report": client.get(f"/import/{imp}").status_code,
        "errors.csv": client.get(f"/import/{imp}/errors.csv").status_code,
        "export page": client.get(f"/jobs/{exp}").status_code,
        "export api": api.get(f"/api/v1/jobs/{exp}", headers=headers).status_code,
        "download": client.get(f"/export/download/{exp}").status_code,
    }


def test_the_owner_sees_the_job_and_its_result(app: Any, jobs: dict[str, str]) -> None:
    assert set(answers(app, OWNER, jobs).values()) == {200}
    client = app.test_client()
    login(client, OWNER)
    assert "王小明" in client.get(f"/import/{jobs['import']}").get_data(as_text=True)


def test_another_manager_gets_404_everywhere(app: Any, jobs: dict[str, str]) -> None:
    """Managers used to see every job (``jobs.view``), including import reports of other
    branches' customers and the result of their exports."""
    assert set(answers(app, OTHER, jobs).values()) == {404}
    headers = {"Authorization": "Bearer " + token_for(app, OTHER)}
    resp = app.test_client().get(f"/api/v1/jobs/{jobs['import']}", headers=headers)
    assert resp.status_code == 404 and "result" not in resp.get_json()
    assert "王小明" not in resp.get_data(as_text=True)


def test_an_administrator_sees_every_job(app: Any, jobs: dict[str, str]) -> None:
    assert set(answers(app, ADMIN, jobs).values()) == {200}


def test_nobody_holds_a_permission_to_see_everyone_s_jobs(app: Any) -> None:
    from carebiz.security.permissions import registered_permissions

    with app.test_request_context():
        assert "jobs.view" not in registered_permissions()


def test_scheduled_jobs_are_for_administrators(app: Any, seeded: dict[str, Any]) -> None:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        job = submit(sess, "core.purge_jobs", {}, app=app)
    for username, status in ((ADMIN, 200), (OWNER, 404), ("viewer", 404)):
        headers = {"Authorization": "Bearer " + token_for(app, username)}
        assert app.test_client().get(f"/api/v1/jobs/{job.id}",
                                     headers=headers).status_code == status
