"""The API answers bad input with 4xx JSON errors, never a 500."""

from tests.conftest import token_for


def test_body_that_is_not_json(app, seeded):
    headers = {"Authorization": "Bearer " + token_for(app, "admin"),
               "Content-Type": "application/json"}
    resp = app.test_client().post("/api/v1/tokens", data="{not json", headers=headers)
    assert resp.status_code in (400, 422), resp.data
    body = resp.get_json()
    assert body["errors"] and body["message"]


def test_page_out_of_range(app, seeded):
    headers = {"Authorization": "Bearer " + token_for(app, "admin")}
    resp = app.test_client().get("/api/v1/users?page=99999999999", headers=headers)
    assert resp.status_code == 422 and "page" in resp.get_json()["errors"]
