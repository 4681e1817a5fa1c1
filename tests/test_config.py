"""Settings precedence: mapping > CAREBIZ_* environment > instance file > defaults."""

from __future__ import annotations

from carebiz import create_app


def test_precedence(tmp_path, monkeypatch):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "carebiz.toml").write_text(
        'CAREBIZ_DEFAULT_LOCALE = "zh_CN"\nCAREBIZ_TIMEZONE = "Asia/Urumqi"\n'
        'CAREBIZ_RQ_QUEUE = "fromfile"\n')
    monkeypatch.setenv("CAREBIZ_INSTANCE_PATH", str(inst))
    monkeypatch.setenv("CAREBIZ_TIMEZONE", "Asia/Hong_Kong")
    monkeypatch.setenv("CAREBIZ_RQ_QUEUE", "fromenv")
    app = create_app({"CAREBIZ_RQ_QUEUE": "frommapping", "CAREBIZ_PLUGINS": "none"})
    assert app.config["CAREBIZ_DEFAULT_LOCALE"] == "zh_CN"
    assert app.config["CAREBIZ_TIMEZONE"] == "Asia/Hong_Kong"
    assert app.config["CAREBIZ_RQ_QUEUE"] == "frommapping"
    assert app.instance_path == str(inst)


def test_zero_configuration_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBIZ_INSTANCE_PATH", str(tmp_path / "fresh"))
    app = create_app({"CAREBIZ_PLUGINS": "none"})
    assert app.config["CAREBIZ_DATABASE_URL"] == f"sqlite:///{tmp_path / 'fresh' / 'carebiz.db'}"
    secret = app.config["SECRET_KEY"]
    assert len(secret) == 64
    assert create_app({"CAREBIZ_PLUGINS": "none"}).config["SECRET_KEY"] == secret  # kept
    assert oct((tmp_path / "fresh" / "secret_key").stat().st_mode)[-3:] == "600"


def test_secret_key_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBIZ_SECRET_KEY", "from-env")
    app = create_app({"CAREBIZ_INSTANCE_PATH": str(tmp_path), "CAREBIZ_PLUGINS": "none"})
    assert app.config["SECRET_KEY"] == "from-env"


def test_bad_job_queue_is_a_clear_error(tmp_path):
    import pytest

    from carebiz.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="CAREBIZ_JOB_QUEUE must be"):
        create_app({"CAREBIZ_INSTANCE_PATH": str(tmp_path), "CAREBIZ_JOB_QUEUE": "celery"})
