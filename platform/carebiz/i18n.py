"""Languages: English and Simplified Chinese, one Babel translation domain per plugin.

Catalogs of Simplified Chinese live in ``translations/zh_Hans_CN``: Babel parses the code
``zh_CN`` into the locale ``zh_Hans_CN`` and looks for catalogs under that full name (then
``zh``), never under ``zh_CN``.

flask-babel merges the catalogs of every (directory, domain) pair it is configured with, so a
plugin's strings translate with the ordinary ``gettext``/``_`` in Python and templates while
each plugin keeps its own catalog in ``<package>/translations/<locale>/LC_MESSAGES/<name>.po``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from babel import Locale, support
from flask import Flask, Request, current_app, g, has_request_context, request, session
from flask_babel import (
    Babel,
    Domain,
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    get_timezone,
    get_translations,
)
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

CORE_DOMAIN = "carebiz"
CORE_TRANSLATIONS = Path(__file__).parent / "translations"

#: language code -> its own name, for the language switch
LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
#: language code -> the short name on the navbar's language switch (the full name is its title)
LANGUAGE_SHORT = {"en": "EN", "zh_CN": "中文"}


def N_(message: str) -> str:  # noqa: N802 - the conventional name of the marker
    """Mark a message for extraction without translating it now: for texts stored in the
    database (audit summaries) and translated when shown, in the reader's language."""
    return message


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
    """BCP 47 tag for ``<html lang>``: zh-CN (Babel's full name is zh_Hans_CN)."""
    locale = get_locale()
    if locale is None:
        return "en"
    return f"{locale.language}-{locale.territory}" if locale.territory else locale.language


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
    babel = CatalogBabel(app, locale_selector=select_locale)  # one per app: caches its domain
    app.request_class = CatalogRequest
    # templates translate through the request's catalog found once (flask-babel looks it up
    # again, through three context lookups, for each of the hundred strings of a page); the
    # i18n extension wants all four, and gettext/ngettext are then replaced by the direct
    # pair below (``{% trans %}`` resolves them by name)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True)
    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext,
                                 ngettext=template_ngettext)
    app.jinja_env.globals.update(html_lang=html_lang, LANGUAGES=LANGUAGES,
                                 LANGUAGE_SHORT=LANGUAGE_SHORT)
    app.jinja_env.filters.update(datetime=datetime_filter, date=date_filter,
                                 number=number_filter, money=money_filter)
    return babel


@pass_context
def template_gettext(context: Context, string: str, **variables: Any) -> str:
    """``_`` and ``gettext`` in templates: what Jinja's new-style ``gettext`` does (the
    translation is Markup when the template escapes, and always a format string), asking the
    request's catalog directly. Jinja's own pair calls through ``Context.call`` twice and
    flask-babel's lookup once more for each of the forty strings of a page. A string
    without variables in an escaping template is remembered beside its catalog as the
    Markup it becomes (a word missed by the catalog of English walks every plugin's
    fallback catalog first)."""
    catalog = translations()
    escaping = context.eval_ctx.autoescape
    if escaping and not variables:
        texts = getattr(catalog, "carebiz_markup", None)
        if texts is None:
            texts = {}
            with contextlib.suppress(AttributeError):  # a catalog that takes no attribute
                catalog.carebiz_markup = texts
        found = texts.get(string)
        if found is None:
            found = texts[string] = Markup(catalog.ugettext(string)) % variables
        return found
    text = catalog.ugettext(string)
    if escaping:
        text = Markup(text)
    return text % variables


@pass_context
def template_ngettext(context: Context, singular: str, plural: str, num: int,
                      **variables: Any) -> str:
    """``ngettext`` in templates, as :func:`template_gettext` (``num`` is a variable too)."""
    variables.setdefault("num", num)
    text = translations().ungettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


class CatalogDomain(Domain):
    """flask-babel's domain, with the request's catalog remembered beside flask-babel's own
    state in ``g``: every ``gettext`` and every lazy label (a page shows some hundred)
    otherwise finds it again through some seven context-local lookups. Remembered for as
    long as the language object stays the same (``force_locale`` and ``refresh`` change or
    drop it, and so the remembered catalog)."""

    def get_translations(self) -> Any:
        try:
            state = g._flask_babel
        except (AttributeError, RuntimeError):  # no context, or nothing looked up yet
            return super().get_translations()
        memo = getattr(state, "carebiz_catalog", None)
        if memo is not None and memo[0] is self and memo[1] is getattr(
                state, "babel_locale", None):
            return memo[2]
        found = super().get_translations()
        locale = getattr(state, "babel_locale", None)
        if locale is not None:
            state.carebiz_catalog = (self, locale, found)
        return found


class CatalogBabel(Babel):
    """flask-babel, translating through :class:`CatalogDomain`."""

    @functools.cached_property
    def domain_instance(self) -> Domain:
        return CatalogDomain(domain=self.domain)


def translations() -> Any:
    """flask-babel's translations for the current language, remembered beside its own state
    in ``g`` for as long as the language stays the same (``force_locale`` and ``refresh``
    change or drop the locale object, and so the remembered catalog)."""
    try:
        state = g._flask_babel
    except (AttributeError, RuntimeError):  # no context yet, or flask-babel's not set up
        return get_translations()
    memo = getattr(state, "carebiz_translations", None)
    if memo is not None and memo[0] is getattr(state, "babel_locale", None):
        return memo[1]
    found = get_translations()
    state.carebiz_translations = (getattr(state, "babel_locale", None), found)
    return found


class CatalogRequest(Request):
    """Flask's request, with the WTForms messages of the request's language from a
    per-process cache: Flask-WTF looks for them here first, and otherwise reads and parses
    the catalog file again for every request that builds a form."""

    @functools.cached_property
    def wtforms_translations(self) -> Any:
        return wtforms_catalog(str(get_locale() or "en"))


@functools.lru_cache(maxsize=32)
def wtforms_catalog(locale: str) -> Any:
    """WTForms' own catalog (its validators' messages) for ``locale``, loaded once."""
    from wtforms.i18n import messages_path

    return support.Translations.load(messages_path(), [locale], domain="wtforms")


#: Babel's named formats, whose patterns can be looked up once per language
NAMED_FORMATS = frozenset({"full", "long", "medium", "short"})


def datetime_filter(value: Any, fmt: str = "medium") -> str:
    """A datetime in the user's language and the business's time zone.

    The same text as ``flask_babel.format_datetime``, but the patterns of a named format
    are looked up and parsed once per language (Babel does both for every value: ~80 µs; a
    timeline shows twenty of them), the time of a plain pattern is written by one format call
    (:func:`_time_writer`) and the day part comes from :func:`date_filter`'s memo."""
    if not value:
        return ""
    if fmt not in NAMED_FORMATS or not isinstance(value, dt.datetime):
        return format_datetime(value, fmt)
    memo = _formatting()
    local = _local(value, memo.tzinfo)
    locale = memo.locale
    combine, write_time = _datetime_patterns(memo.identifier, fmt)
    return combine.replace("{0}", write_time(local, locale)).replace(
        "{1}", date_filter(local.date(), fmt))


#: what a time pattern may hold for :func:`_time_writer` to write it without Babel
_PLAIN_TIME_FIELDS = frozenset("Hhmsa")


@functools.lru_cache(maxsize=64)
def _datetime_patterns(locale: str, fmt: str) -> tuple[str, Callable[[dt.datetime, Any], str]]:
    """How a language joins a day and a time, and how it writes the time, for ``fmt``."""
    from babel.dates import get_datetime_format, get_time_format, parse_pattern

    parsed = Locale.parse(locale)
    pattern = parse_pattern(get_time_format(fmt, locale=parsed))
    return (get_datetime_format(fmt, locale=parsed).replace("'", ""),
            _time_writer(pattern.pattern, parsed) or _babel_time_writer(pattern))


def _babel_time_writer(pattern: Any) -> Callable[[dt.datetime, Any], str]:
    """Babel's own way: the pattern applied to the time (zones, fractions, any field)."""
    def write(local: dt.datetime, locale: Any) -> str:
        return pattern.apply(local.timetz(), locale, reference_date=local.date())
    return write


def _time_writer(pattern: str, locale: Any) -> Callable[[dt.datetime, Any], str] | None:
    """The time pattern as one ``str.format`` call, or None when it holds more than hours,
    minutes, seconds and the day period (then Babel writes it).

    Applying a parsed pattern costs Babel ~20 µs a value (a ``DateTimeFormat`` object and a
    lookup per field), twenty times the format call; a timeline shows a time per entry. The
    day period's words are Babel's own (asked once for a morning and an afternoon), the
    numbers are padded as Babel pads them, and ``tests/test_i18n.py`` holds every second of
    the day to Babel's text."""
    from babel.dates import DateTimeFormat, tokenize_pattern

    parts, periods = [], ("", "")
    for kind, value in tokenize_pattern(pattern):
        if kind == "chars":
            parts.append(str(value).replace("{", "{{").replace("}", "}}"))
            continue
        char, width = value
        if char not in _PLAIN_TIME_FIELDS:
            return None
        if char == "a":
            periods = tuple(DateTimeFormat(dt.time(hour), locale).format_period("a", width)
                            for hour in (0, 12))
            parts.append("{a}")
        else:
            parts.append(f"{{{char}:0{width}d}}")
    template = "".join(parts)

    def write(local: dt.datetime, _locale: Any) -> str:
        hour = local.hour
        return template.format(H=hour, h=hour % 12 or 12, m=local.minute, s=local.second,
                               a=periods[hour >= 12])
    return write


def date_filter(value: Any, fmt: str = "medium") -> str:
    """A date (a datetime's day in the business's time zone) in the user's language. Days
    repeat down a list, and formatting one costs more than rendering its row: remembered
    per app, language and day."""
    if not value:
        return ""
    memo = _formatting()
    if isinstance(value, dt.datetime):
        value = _local(value, memo.tzinfo).date()
    days = memo.days
    key = (value, fmt, memo.identifier)
    text = days.get(key)
    if text is None:
        if len(days) >= 4096:
            days.clear()
        text = days[key] = format_date(value, fmt)
    return text


class _Formatting(NamedTuple):
    locale: Any
    tzinfo: Any
    identifier: str
    days: dict[Any, str]


def _formatting() -> _Formatting:
    """The request's language, its identifier, the business's time zone and the app's memo
    of formatted days, found once per request: flask-babel looks up the language and the
    zone through three context-local lookups each, and naming the language costs as much
    again, for every value (a list page formats a hundred). Remembered beside flask-babel's
    own state for as long as its language and zone objects stay the same (``force_locale``
    and ``refresh`` change or drop them)."""
    try:
        state = g._flask_babel
    except (AttributeError, RuntimeError):
        state = None
    memo = getattr(state, "carebiz_formatting", None)
    if memo is not None and memo.locale is getattr(state, "babel_locale", None) \
            and memo.tzinfo is getattr(state, "babel_tzinfo", None):
        return memo
    tzinfo, locale = get_timezone(), get_locale()
    memo = _Formatting(locale, tzinfo, str(locale),
                       current_app.extensions.setdefault("carebiz.formatted_days", {}))
    with contextlib.suppress(AttributeError, RuntimeError):  # no context: nothing to keep
        g._flask_babel.carebiz_formatting = memo
    return memo


def _local(value: dt.datetime, tzinfo: Any) -> dt.datetime:
    """``flask_babel.to_user_timezone`` with the zone already at hand."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return tzinfo.normalize(value.astimezone(tzinfo))


def number_filter(value: Any) -> str:
    return format_decimal(value) if value is not None else ""


def money_filter(amount: Any, currency: str) -> str:
    """Money always shows its currency: ¥1,234.50, US$1,234.50 (en), US$1,234.50 (zh_CN)."""
    return format_currency(amount, currency) if amount is not None else ""


def language_name(code: str) -> str:
    return LANGUAGES.get(code) or Locale.parse(code).display_name or code


def fold(text: str) -> str:
    """``text`` as typed labels are compared: NFKC (full-width letters as ASCII), trimmed,
    case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def in_every_language(texts: list[Any]) -> list[set[str]]:
    """Each of ``texts`` (lazy labels) as it reads in every shipped language, folded
    (:func:`fold`): what a person may type for it. A Chinese user types the English label
    they saw in a manual, an English user pastes the Chinese one from a colleague's message;
    both mean the same code. Plain strings read the same in every language. One
    ``force_locale`` per language for the whole list (each one re-reads the catalogs)."""
    from flask_babel import force_locale

    found: list[set[str]] = [{fold(str(text))} for text in texts]
    for code in LANGUAGES:
        try:
            with force_locale(code):
                for i, text in enumerate(texts):
                    found[i].add(fold(str(text)))
        except RuntimeError:  # outside any app context: the current reading is all there is
            break
    return found
