"""Business settings: defaults come from the ``settings`` hook, changes are stored."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from carebiz.errors import NotFound, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.generations import PENDING, PLUGINS, SETTINGS
from carebiz.i18n import N_
from carebiz.models import SettingValue
from carebiz.signals import core as signals
from carebiz.text import check_text


def specs(host: Any) -> Mapping[str, Any]:
    """The settings of the switched-on plugins by key (built once per switched-on set: a
    list page reads a setting per row)."""
    return host.registry("settings.by_key",
                         lambda: MappingProxyType({s.key: s for s in host.collect("settings")}))


def get(session: Session, host: Any, key: str) -> Any:
    spec = specs(host).get(key)
    if spec is None:
        raise NotFound(_("No setting named '%(key)s'.", key=key))
    cache = session.info.setdefault(CACHE, {})
    if key not in cache:  # once per session (request, job): settings are read on hot paths
        cache[key] = _stored(session, host, spec, key)
    return cache[key]


CACHE = "carebiz.settings"
#: the process-wide memo of stored settings, in ``Generations.memos``
SHARED = "settings"


def _stored(session: Session, host: Any, spec: Any, key: str) -> Any:
    """The setting's value, kept by the process while the settings and plugins generations
    hold (every page reads the phone region or the currency; a change in any worker moves
    the generation, so the next request everywhere reads the row again). Nothing is kept
    while the counters cannot be read, nor from a session that changed settings itself and
    has not committed (its value might still be rolled back)."""
    generations = getattr(host, "generations", None)
    counters = generations.current() if generations is not None else None
    memo = None
    if counters is not None and not _changing_settings(session):
        stamp = (counters.get(SETTINGS, 0), counters.get(PLUGINS, 0))
        memo = generations.memos.get(SHARED)
        if memo is None or memo[0] != stamp:
            memo = generations.memos[SHARED] = (stamp, {})
        if key in memo[1]:
            return memo[1][key]
    row = session.get(SettingValue, key)
    value = _decode(spec, row.value) if row is not None else default(spec)
    if memo is not None:
        memo[1][key] = value
    return value


def _changing_settings(session: Session) -> bool:
    return SETTINGS in session.info.get(PENDING, ()) or any(
        isinstance(obj, SettingValue) for obj in (*session.new, *session.dirty, *session.deleted))
#: longest text setting (characters)
MAX_TEXT = 5000


def default(spec: Any) -> Any:
    """The default in the setting's own type (a decimal default may be written "0.13")."""
    return parse(spec, spec.default) if spec.default is not None else None


def _decode(spec: Any, stored: Any) -> Any:
    return Decimal(stored) if spec.type == "decimal" else stored


TYPE_LABELS = {"int": _l("whole number"), "decimal": _l("decimal number"),
               "bool": _l("yes/no value"), "choice": _l("choice"), "text": _l("text")}


def parse(spec: Any, raw: Any) -> Any:
    """Turn form or API input into the setting's type, or say what is wrong."""
    try:
        if spec.type == "int":
            return int(raw)
        if spec.type == "bool":
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in ("1", "true", "yes", "on")
        if spec.type == "decimal":
            return Decimal(str(raw))
    except (ValueError, InvalidOperation) as exc:
        raise ValidationFailed(
            _("'%(value)s' is not a valid %(type)s for %(key)s.", value=raw,
              type=TYPE_LABELS[spec.type], key=spec.key),
            {spec.key: _("Expected: %(type)s.", type=TYPE_LABELS[spec.type])}) from exc
    if spec.type == "choice" and raw not in {c[0] for c in spec.choices}:
        allowed = ", ".join(c[0] for c in spec.choices)
        raise ValidationFailed(_("'%(value)s' is not allowed for %(key)s.", value=raw,
                                 key=spec.key), {spec.key: _("One of: %(allowed)s.",
                                                             allowed=allowed)})
    # a JSON column: the text checks of the table columns do not reach it, so check here
    return "" if raw is None else check_text(str(raw), spec.key, MAX_TEXT)


def set_value(session: Session, host: Any, key: str, raw: Any, actor: str = "") -> Any:
    spec = specs(host).get(key)
    if spec is None:
        raise NotFound(_("No setting named '%(key)s'.", key=key))
    value = parse(spec, raw)
    old = get(session, host, key)
    stored = str(value) if spec.type == "decimal" else value
    row = session.get(SettingValue, key)
    if value == default(spec):  # back to the default: follow future default changes again
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(SettingValue(key=key, value=stored, updated_by=actor))
    else:
        row.value = stored
        row.updated_by = actor
    session.flush()
    session.info.setdefault(CACHE, {})[key] = value
    if old != value:
        emit(session, signals.setting_changed, key=key, value=value, old=old,
             audit=Audit("setting", key, N_("Setting %(key)s changed"),
                         {"value": _jsonable(old)}, {"value": _jsonable(value)},
                         args={"key": key}))
    return value


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
