"""Languages: English and Simplified Chinese, one Babel translation domain per plugin.

flask-babel merges the catalogs of every (directory, domain) pair it is configured with, so a
plugin's strings translate with the ordinary ``gettext``/``_`` in Python and templates while
each plugin keeps its own catalog in ``<package>/translations/<locale>/LC_MESSAGES/<name>.po``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel import Locale
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, format_datetime, get_locale
from flask_login import current_user

CORE_DOMAIN = "carebiz"
CORE_TRANSLATIONS = Path(__file__).parent / "translations"

#: language code -> its own name, for the language switch
LANGUAGES = {"en": "English", "zh_CN": "简体中文"}


def normalise(code: str | None) -> str | None:
    """Map ``zh``, ``zh-CN``, ``zh_Hans_CN`` … to a shipped language code."""
    if not code:
        return None
    code = code.replace("-", "_")
    if code in LANGUAGES:
        return code
    lang = code.split("_")[0].lower()
    if lang == "zh":
        return "zh_CN"
    return lang if lang in LANGUAGES else None


def select_locale() -> str:
    """The user's saved choice, then this browser session's, then Accept-Language."""
    default = current_app.config.get("CAREBIZ_DEFAULT_LOCALE", "en")
    if not has_request_context():  # CLI, jobs: the configured default
        return default
    if getattr(current_user, "is_authenticated", False) and current_user.locale:
        return current_user.locale
    chosen = normalise(session.get("locale"))
    if chosen:
        return chosen
    best = request.accept_languages.best_match(["en", "zh-CN", "zh"])
    return normalise(best) or default


def html_lang() -> str:
    """BCP 47 tag for ``<html lang>`` (zh-CN, not zh_CN)."""
    locale = get_locale()
    return str(locale).replace("_", "-") if locale else "en"


def init_app(app: Flask, host: Any) -> Babel:
    dirs = [str(CORE_TRANSLATIONS)]
    domains = [CORE_DOMAIN]
    for name, manifest in host.manifests.items():
        folder = manifest.translations_folder
        if folder is not None and name != "core":
            dirs.append(str(folder))
            domains.append(name)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(dirs)
    app.config["BABEL_DOMAIN"] = ";".join(domains)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config.get("CAREBIZ_DEFAULT_LOCALE", "en"))
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config.get("CAREBIZ_TIMEZONE", "UTC"))
    babel = Babel(app, locale_selector=select_locale)  # one per app: it caches its domain
    app.jinja_env.globals.update(html_lang=html_lang, LANGUAGES=LANGUAGES,
                                 format_datetime=format_datetime)
    app.jinja_env.filters["datetime"] = lambda v, fmt="medium": format_datetime(v, fmt) if v else ""
    return babel


def language_name(code: str) -> str:
    return LANGUAGES.get(code) or Locale.parse(code).display_name or code
