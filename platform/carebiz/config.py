"""Configuration loading.

Settings come from, in order of precedence: the mapping passed to ``create_app``, ``CAREBIZ_*``
environment variables, the instance file ``carebiz.toml``, then the defaults below. The CLI builds
its app through the same ``create_app``, so every command honours the same settings.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV_PREFIX = "CAREBIZ_"
INSTANCE_FILE = "carebiz.toml"

#: Defaults for every setting the platform reads. Values are strings where they may come from
#: the environment; :func:`coerce` turns them into their real types.
DEFAULTS: dict[str, Any] = {
    "CAREBIZ_DATABASE_URL": None,  # None: SQLite file in the instance folder
    "CAREBIZ_PLUGINS": "all",
    "CAREBIZ_JOB_QUEUE": "thread",  # thread (in-process), inline (synchronous) or rq
    "CAREBIZ_REDIS_URL": "redis://127.0.0.1:6379/0",
    "CAREBIZ_RQ_QUEUE": "carebiz",
    "CAREBIZ_JOB_LEASE": "120",  # seconds a running job lives without a heartbeat
    "CAREBIZ_DEFAULT_LOCALE": "en",
    "CAREBIZ_TIMEZONE": "Asia/Shanghai",
    "CAREBIZ_SECURE_COOKIES": False,
    "CAREBIZ_SQL_ECHO": False,
    # failed logins (see carebiz.security.throttle); empty switches a counter off
    "CAREBIZ_LOGIN_LIMIT_PER_ACCOUNT": "5 per 15 minutes",
    "CAREBIZ_LOGIN_LIMIT_PER_ADDRESS": "20 per 15 minutes",
    "CAREBIZ_RATELIMIT_STORAGE_URL": None,  # None: memory://, or CAREBIZ_REDIS_URL with rq
    "CAREBIZ_TRUSTED_PROXIES": 0,  # reverse proxies in front whose X-Forwarded-* are believed
    # bytes of a request body (413 beyond); uploads of imports have their own, larger limit
    "CAREBIZ_MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    "CAREBIZ_MAX_UPLOAD_LENGTH": 25 * 1024 * 1024,
    # characters of a request's path and query string (414 beyond; `carebiz serve` lets
    # gunicorn read request lines of up to 8190 bytes so the app answers first)
    "CAREBIZ_MAX_URL_LENGTH": 8000,
    # render one small PDF in the background when a server starts serving, so the first
    # person to print does not pay for WeasyPrint's start (auto: on, except in tests)
    "CAREBIZ_PDF_WARM_UP": "auto",
    # notifications (carebiz.notify): the address people open the site at, so links in
    # e-mails and text messages are absolute (None: they stay paths of the site)
    "CAREBIZ_PUBLIC_URL": None,
    # the e-mail channel is on once a host is set; security: none, starttls or ssl
    "CAREBIZ_SMTP_HOST": None,
    "CAREBIZ_SMTP_PORT": 25,
    "CAREBIZ_SMTP_SECURITY": "none",
    "CAREBIZ_SMTP_SENDER": "carebiz@localhost",
    "CAREBIZ_SMTP_USERNAME": None,
    "CAREBIZ_SMTP_PASSWORD": None,
    "CAREBIZ_SMTP_TIMEOUT": 10,
    # gateways posting to /api/v1/notifications/inbound/<channel>: "sms=<token>,…" (or a
    # table in carebiz.toml); a channel without a token refuses every message
    "CAREBIZ_INBOUND_TOKENS": None,
    "CAREBIZ_INBOUND_LIMIT": "30 per minute",
}

BOOLEAN_KEYS = {"CAREBIZ_SECURE_COOKIES", "CAREBIZ_SQL_ECHO", "TESTING", "WTF_CSRF_ENABLED"}
INTEGER_KEYS = {"CAREBIZ_MAX_CONTENT_LENGTH", "CAREBIZ_MAX_UPLOAD_LENGTH",
                "CAREBIZ_MAX_URL_LENGTH", "CAREBIZ_SMTP_PORT", "CAREBIZ_SMTP_TIMEOUT"}
TRUE_WORDS = {"1", "true", "yes", "on"}


def coerce(key: str, value: Any) -> Any:
    """Give environment strings their real type (booleans and byte counts)."""
    if key in BOOLEAN_KEYS and isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    if key in INTEGER_KEYS and isinstance(value, str):
        return int(value.strip().replace("_", ""))
    return value


def instance_path_from(mapping: Mapping[str, Any] | None) -> str:
    """Where the instance folder is: mapping, environment, then ``./instance``."""
    mapping = mapping or {}
    path = mapping.get("CAREBIZ_INSTANCE_PATH") or os.environ.get("CAREBIZ_INSTANCE_PATH")
    return str(Path(path or "instance").resolve())


def load(mapping: Mapping[str, Any] | None, instance_path: str) -> dict[str, Any]:
    """Merge defaults, instance file, environment and mapping (the last one wins)."""
    merged: dict[str, Any] = dict(DEFAULTS)
    instance_file = Path(instance_path) / INSTANCE_FILE
    if instance_file.is_file():
        with instance_file.open("rb") as fh:
            merged.update(tomllib.load(fh))
    merged.update({k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)})
    if mapping:
        merged.update(mapping)
    merged = {k: coerce(k, v) for k, v in merged.items()}
    merged["CAREBIZ_INSTANCE_PATH"] = instance_path
    merged.setdefault("MAX_CONTENT_LENGTH", merged["CAREBIZ_MAX_CONTENT_LENGTH"])
    if not merged.get("CAREBIZ_DATABASE_URL"):
        merged["CAREBIZ_DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'carebiz.db'}"
    secret = merged.get("CAREBIZ_SECRET_KEY") or merged.get("SECRET_KEY")
    merged["SECRET_KEY"] = secret or _instance_secret(instance_path)
    return merged


def _instance_secret(instance_path: str) -> str:
    """A random secret kept in the instance folder, so zero-configuration installs still get
    a stable, private key shared by every worker process."""
    path = Path(instance_path) / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker wrote it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def plugin_selection(value: Any) -> str | list[str]:
    """``all`` (or empty), ``none``, or a list of names from ``CAREBIZ_PLUGINS``."""
    if value is None:
        return "all"
    if isinstance(value, (list, tuple, set)):
        names = [str(v).strip() for v in value if str(v).strip()]
    else:
        text = str(value).strip()
        if text.lower() in ("", "all"):
            return "all"
        if text.lower() == "none":
            return []
        names = [part.strip() for part in text.split(",") if part.strip()]
    return names
