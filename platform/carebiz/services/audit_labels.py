"""Audit entries as people read them: field labels, choice labels, the names of the records a
value refers to, and the event's sentence, in the reader's language.

The declarations come from the ``audit_labels`` hook (:class:`~carebiz.contributions.
AuditLabels`), merged once per switched-on set of plugins. :func:`label_entries` is called by
every page and export that shows entries (after :func:`carebiz.models.audit.for_reader`, so
values of records the reader may not see stay withheld): it looks up the names of referenced
records with one query per kind of record, through the row filters of the reader, so a
branch-limited user reads "a customer of another branch" where another branch's customer is
named. The API keeps the stored codes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from carebiz.models.audit import MASKS, OTHER_RECORD, WITHHELD, AuditEntry, _model_of

#: attributes naming a record, tried in this order for a referenced record
NAME_ATTRIBUTES = ("name", "display_name", "plate", "vin", "title", "code")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass(frozen=True)
class Vocabulary:
    """The merged declarations: per entity type its field labels, value labels and
    references; the event sentences of every kind."""

    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    references: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    events: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One changed field of an entry, ready to show: ``label: old → new``."""

    key: str
    label: str
    old: str
    new: str
    had_before: bool


def vocabulary(host: Any) -> Vocabulary:
    """The switched-on plugins' ``audit_labels``, merged (lighter weights first, so a later
    declaration overrides a field of an earlier one); built once per switched-on set."""

    def build() -> Vocabulary:
        fields: dict[str, dict[str, Any]] = {}
        values: dict[str, dict[str, dict[str, Any]]] = {}
        refs: dict[str, dict[str, str]] = {}
        events: dict[str, Any] = {}
        for decl in host.collect("audit_labels"):
            fields.setdefault(decl.entity_type, {}).update(decl.fields)
            for key, labels in decl.values.items():
                values.setdefault(decl.entity_type, {}).setdefault(key, {}).update(labels)
            refs.setdefault(decl.entity_type, {}).update(decl.references)
            events.update(decl.events)
        return Vocabulary(fields, values, refs, events)

    return host.registry("audit_labels.vocabulary", build)


def _host_of(session: Session, host: Any) -> Any:
    if host is not None:
        return host
    found = session.info.get("carebiz.host")
    if found is None:
        from flask import current_app

        found = current_app.extensions["carebiz"].host
    return found


def _name_column(model: type) -> Any:
    """The column a record of ``model`` is named by (None: it has none, its id names it)."""
    columns = getattr(getattr(model, "__table__", None), "c", {})
    for attr in NAME_ATTRIBUTES:
        if attr in columns:
            return getattr(model, attr, None)
    return None


#: how a record of these kinds reads when a reference names it, beside its name column:
#: a role by its label in the reader's language (built-in roles are translated)
def _role_label(role: Any) -> str:
    from carebiz.services.roles import role_label

    return role_label(role)


LABELLERS: Mapping[str, Any] = {"role": _role_label}
#: a reference target naming custom fields: ``"custom_field:party"`` for a mapping of a
#: party's custom values, whose keys read as the admin's labels
CUSTOM_FIELDS = "custom_field:"


def _target(target: str) -> tuple[str, str]:
    """``("branch", "id")`` for ``"branch"``, ``("branch", "code")`` for ``"branch.code"``."""
    entity_type, _dot, column = target.partition(".")
    return entity_type, column or "id"


def _names(session: Session, wanted: Mapping[str, set[Any]], user: Any,
           host: Any) -> dict[tuple[str, Any], str]:
    """``(target, key) -> what the reader reads``: the record's name, or a mask when the
    row filters hide it from ``user``. A target is an entity type (keys are ids) or
    ``entity.column`` (keys are that column's values: a branch's code, a role's name). One
    query per target: the names of the rows the reader's filters let through; the others
    are masked."""
    from carebiz.security.rows import filters_for

    out: dict[tuple[str, Any], str] = {}
    for target, keys in wanted.items():
        entity_type, key_name = _target(target)
        model = _model_of(entity_type)
        column = _name_column(model) if model is not None else None
        key_column = getattr(model, key_name, None) if model is not None else None
        labeller = LABELLERS.get(entity_type)
        if model is None or key_column is None or (column is None and labeller is None):
            continue  # nothing to name it by: the stored value stays
        clauses = filters_for(model, user, host) if user is not None else []
        picked = sorted(keys, key=str)
        kept = _kept_branches(session, model, key_name, column) if not clauses else None
        if kept is not None:  # the worker's branch rows: no statement on every history card
            for key, name in kept:
                if key in keys:
                    out[(target, key)] = str(name) if name else f"#{key}"
        elif labeller is not None:
            stmt = select(model).options(lazyload("*")).where(key_column.in_(picked), *clauses)
            for record in session.scalars(stmt):  # the record alone, none of its relations
                out[(target, getattr(record, key_name))] = labeller(record)
        else:
            rows = session.execute(select(key_column, column)
                                   .where(key_column.in_(picked), *clauses))
            for key, name in rows:
                out[(target, key)] = str(name) if name else f"#{key}"
        mask = _(MASKS.get(entity_type, OTHER_RECORD))
        for key in keys:
            out.setdefault((target, key), mask)
    return out


def _kept_branches(session: Session, model: type, key_name: str,
                   column: Any) -> list[tuple[Any, Any]] | None:
    """``(key, name)`` of every branch from the rows the process keeps per security
    generation (:func:`carebiz.services.branches.branch_rows`), when ``model`` is the branch
    and both columns are among those rows; ``None`` otherwise (then the caller reads)."""
    from carebiz.models import Branch
    from carebiz.services.branches import BranchRow, branch_rows

    name_key = getattr(column, "key", None)
    if model is not Branch or key_name not in BranchRow._fields or (
            name_key not in BranchRow._fields):
        return None
    return [(getattr(row, key_name), getattr(row, name_key)) for row in branch_rows(session)]


def _custom_labels(session: Session, entities: set[str]) -> dict[tuple[str, str], str]:
    """``(entity, field name) -> the admin's label`` of the custom fields of ``entities``
    (inactive ones too: history outlives a field), in one query."""
    model = _model_of("custom_field")
    if model is None or not entities:
        return {}
    rows = session.execute(select(model.entity, model.name, model.label)  # type: ignore[attr-defined]
                           .where(model.entity.in_(sorted(entities))))  # type: ignore[attr-defined]
    return {(entity, name): label for entity, name, label in rows if label}


def _keys_of(target: str, raw: Any) -> list[Any]:
    """The record keys a stored value names (one, or each item of a list)."""
    _entity, key_name = _target(target)
    items = raw if isinstance(raw, list) else [raw]
    if key_name == "id":
        return [k for k in map(_as_id, items) if k is not None]
    return [item for item in items if isinstance(item, str) and item]


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def text_of(value: Any, choices: Mapping[str, Any] | None = None) -> str:
    """A stored value as text: choice labels, yes/no, dates in the reader's locale, lists
    joined, an empty value as a dash."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(text_of(v, choices) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if choices and str(value) in choices:
        return str(choices[str(value)])
    if isinstance(value, str):
        try:
            if _DATE.match(value):
                return str(format_date(dt.date.fromisoformat(value)))
            if _DATETIME.match(value):
                moment = dt.datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.UTC)
                return str(format_datetime(moment, "short"))
        except ValueError:
            return value
    return str(value)


def _flatten(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Top-level keys, with a mapping's keys (custom fields) as ``key.subkey``."""
    flat: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if isinstance(value, dict) and value:
            for sub, item in value.items():
                flat[f"{key}.{sub}"] = item
        else:
            flat[key] = value
    return flat


def label_entries(session: Session, entries: Iterable[AuditEntry], user: Any,
                  host: Any = None) -> list[AuditEntry]:
    """``entries`` (already through :func:`~carebiz.models.audit.for_reader`) with their
    :func:`changes` and :func:`event_text` worked out for ``user``: one query per kind of
    record their values name, whatever the number of entries."""
    entries = list(entries)
    host = _host_of(session, host)
    vocab = vocabulary(host)
    withheld = _(WITHHELD)
    wanted: dict[str, set[Any]] = {}
    custom: set[str] = set()
    for entry in entries:
        refs = vocab.references.get(entry.entity_type, {})
        for values in (entry.shown_before, entry.shown_after):
            for key, target in refs.items():
                raw = (values or {}).get(key)
                if raw is None or raw == withheld:
                    continue
                if target.startswith(CUSTOM_FIELDS):
                    if isinstance(raw, dict) and raw:
                        custom.add(target.removeprefix(CUSTOM_FIELDS))
                    continue
                wanted.setdefault(target, set()).update(_keys_of(target, raw))
    wanted = {target: keys for target, keys in wanted.items() if keys}
    names = _names(session, wanted, user, host) if wanted else {}
    labels = _custom_labels(session, custom) if custom else {}
    words = translated(host, vocab) if entries else vocab
    for entry in entries:
        entry._labelled = _changes_of(entry, words, names, withheld, labels)
    return entries


def translated(host: Any, vocab: Vocabulary) -> Vocabulary:
    """``vocab`` with its field and value labels translated into the current language, once
    per language and switched-on set: a history card labels some twenty fields per entry,
    and translating a lazy label costs more than the rest of the field. The labels come
    only from the plugins' declarations, so they change only with the plugins (the key)."""
    from flask_babel import get_locale

    def build() -> Vocabulary:
        return Vocabulary(
            {kind: {key: _plain(label) for key, label in labels.items()}
             for kind, labels in vocab.fields.items()},
            {kind: {key: {code: str(text) for code, text in codes.items()}
                    for key, codes in keyed.items()}
             for kind, keyed in vocab.values.items()},
            vocab.references, vocab.events)

    return host.registry(f"audit_labels.translated.{get_locale()}", build)


def _changes_of(entry: AuditEntry, vocab: Vocabulary, names: Mapping[tuple[str, Any], str],
                withheld: str, custom: Mapping[tuple[str, str], str] | None = None
                ) -> list[Change]:
    fields = vocab.fields.get(entry.entity_type, {})
    choices = vocab.values.get(entry.entity_type, {})
    refs = vocab.references.get(entry.entity_type, {})
    before, after = _flatten(entry.shown_before), _flatten(entry.shown_after)
    had_before = entry.before is not None
    keys = list(after) + [k for k in before if k not in after]

    def show(key: str, value: Any) -> str:
        if value == withheld:
            return withheld
        target = refs.get(key)
        if target and not target.startswith(CUSTOM_FIELDS):
            found = _keys_of(target, value)
            if found and isinstance(value, list) and len(found) == len(value):
                return ", ".join(names.get((target, k), str(k)) for k in found)
            if found and not isinstance(value, list):
                return names.get((target, found[0]), _shown_key(target, found[0]))
        return text_of(value, choices.get(key))

    out = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if not had_before and new in (None, "", [], {}):
            continue  # a creation lists only what is set
        top, _dot, sub = key.partition(".")
        label = _plain(fields.get(key))
        target = refs.get(top, "")
        if not label and sub and target.startswith(CUSTOM_FIELDS):
            label = (custom or {}).get((target.removeprefix(CUSTOM_FIELDS), sub))
        if not label:
            parent = _plain(fields.get(top))
            label = parent and sub and f"{parent} · {sub}"
        out.append(Change(key, str(label or key), show(key, old), show(key, new),
                          had_before))
    return out


def _plain(label: Any) -> str | None:
    """A field label as text, translated once: a lazy label is translated again by every
    truth test (``not label`` asks its length), three times per field otherwise."""
    return None if label is None else str(label)


def _shown_key(target: str, key: Any) -> str:
    return f"#{key}" if _target(target)[1] == "id" else str(key)


def changes(entry: AuditEntry) -> list[Change]:
    """The entry's labelled changes (see :func:`label_entries`); an entry that did not pass
    through it is labelled now without the names of referenced records (ids stay ids)."""
    found = entry.__dict__.get("_labelled")
    if found is None:
        from flask import current_app

        vocab = vocabulary(current_app.extensions["carebiz"].host)
        found = entry._labelled = _changes_of(entry, vocab, {}, _(WITHHELD))
    return list(found)


def event_text(entry: AuditEntry, host: Any = None) -> str:
    """The event as a sentence in the reader's language ("Customer registered"), or the
    stored event name when no plugin declared one."""
    if host is None:
        from flask import current_app

        host = current_app.extensions["carebiz"].host
    label = vocabulary(host).events.get(entry.event)
    return str(label) if label else entry.event


def changes_line(entry: AuditEntry) -> str:
    """The changes on one line, for exports: ``Branch: A → B; Fuel: Petrol``."""
    parts = []
    for change in changes(entry):
        if change.had_before:
            parts.append(f"{change.label}: {change.old} → {change.new}")
        else:
            parts.append(f"{change.label}: {change.new}")
    return "; ".join(parts)
