"""The app starts, answers its health check and serves login and the API document."""


def test_healthz(app):
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok"}


def test_login_page_and_home(admin_client):
    resp = admin_client.get("/")
    assert resp.status_code == 200
    assert b"Welcome" in resp.data


def test_openapi(app):
    resp = app.test_client().get("/api/v1/openapi.json")
    assert resp.status_code == 200
    assert "/api/v1/me" in resp.get_json()["paths"]


def test_pages_have_an_icon(app, seeded):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert '<link rel="icon" type="image/svg+xml" href="/static/favicon.svg">' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.get_data(as_text=True).lstrip().startswith("<svg")
    legacy = client.get("/favicon.ico")
    assert legacy.status_code == 301 and legacy.headers["Location"].endswith("/static/favicon.svg")
