"""The audit log: who changed what and when, with before/after values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from carebiz.db import Base, utcnow
from carebiz.i18n import N_

#: the key of ``summary_args`` that tells, for each argument naming a record other than the
#: entry's own, which record it names: ``{"name": ["party", 12]}``. The name is stored for the
#: readers who may see that record and withheld from the others when the summary is shown.
REFS = "_refs"
#: the key of ``summary_args`` that tells which top-level keys of ``before``/``after`` describe
#: a record other than the entry's own (``{"removed": ["party", 12]}``: a merged-away
#: customer's snapshot): their values are shown only to readers who may see that record
DATA_REFS = "_data_refs"
#: what a reader who may not see that record reads in place of its values
WITHHELD = N_("withheld: a record you may not see")
#: how a summary names a record its reader may not see, by the record's entity type
MASKS = {"party": N_("a customer of another branch")}
OTHER_RECORD = N_("a record you may not see")
#: summaries stored before their arguments carried ``REFS``: the argument, its record's
#: entity type, and the key of ``after`` holding that record's id
LEGACY_REFS = {
    "Vehicle %(vin)s now owned by %(name)s": ("name", "party", "owner_id"),
    "Contact %(person)s added to %(org)s": ("person", "party", "person_id"),
}


class AuditEntry(Base):
    """Written in the same transaction as the change it records, from the domain event that
    describes the change, so a change and its audit entry are committed or dropped together."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    actor_name: Mapped[str] = mapped_column(String(80), default="")
    event: Mapped[str] = mapped_column(String(120))
    entity_type: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str] = mapped_column(String(64))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(String(500), default="")
    summary_args: Mapped[dict[str, Any] | None]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    #: the version of a versioned record after this change (what changed since a version)
    version: Mapped[int | None]

    @property
    def actor_label(self) -> str:
        """Who acted, for pages: the user name, or "system" in the reader's language."""
        if self.actor_id is None and self.actor_name == "system":
            return gettext("system")
        return self.actor_name

    @property
    def refs(self) -> dict[str, tuple[str, Any]]:
        """The arguments of the summary that name another record: ``{arg: (type, id)}``."""
        stored = (self.summary_args or {}).get(REFS)
        if isinstance(stored, dict):
            return {k: (str(v[0]), v[1]) for k, v in stored.items()
                    if isinstance(v, list | tuple) and len(v) == 2}
        legacy = LEGACY_REFS.get(self.summary)
        if legacy and (self.summary_args or {}).get(legacy[0]) is not None:
            return {legacy[0]: (legacy[1], (self.after or {}).get(legacy[2]))}
        return {}

    @property
    def data_refs(self) -> dict[str, tuple[str, Any]]:
        """The keys of ``before``/``after`` that describe another record: ``{key: (type, id)}``."""
        stored = (self.summary_args or {}).get(DATA_REFS)
        if not isinstance(stored, dict):
            return {}
        return {k: (str(v[0]), v[1]) for k, v in stored.items()
                if isinstance(v, list | tuple) and len(v) == 2}

    @property
    def shown_before(self) -> dict[str, Any] | None:
        """``before`` as its reader may see it (see :attr:`shown_after`)."""
        return self._shown(self.before)

    @property
    def shown_after(self) -> dict[str, Any] | None:
        """``after`` as its reader may see it: the values describing a record the reader may
        not see (:attr:`data_refs`) are withheld; an entry that did not pass through
        :func:`for_reader` withholds them all (default deny). Every reader of the log shows
        these, never the raw columns."""
        return self._shown(self.after)

    def _shown(self, values: dict[str, Any] | None) -> dict[str, Any] | None:
        private = self.data_refs
        if values is None or not private:
            return values
        shown = self.__dict__.get("_shown_data", frozenset())
        return {k: (v if k not in private or k in shown else gettext(WITHHELD))
                for k, v in values.items()}

    @property
    def summary_text(self) -> str:
        """The summary in the current language (its message is translated when shown),
        naming only the records its reader may see: :func:`for_reader` decides which; an
        entry that did not pass through it names none (default deny)."""
        if not self.summary:
            return ""
        args = {k: v for k, v in (self.summary_args or {}).items() if k not in (REFS, DATA_REFS)}
        shown = self.__dict__.get("_shown_refs", frozenset())
        for name, (entity_type, _id) in self.refs.items():
            if name not in shown:
                args[name] = gettext(MASKS.get(entity_type, OTHER_RECORD))
        try:
            return gettext(self.summary, **args)
        except (KeyError, TypeError, ValueError):  # arguments that do not fit the message
            return self.summary


#: table name -> its model, as found by :func:`_model_of` (models are never unmapped)
_MODELS: dict[str, type] = {}


def _model_of(entity_type: str) -> type | None:
    """The model whose table is named ``entity_type`` (refs name records by table). Found
    models are remembered: ``registry.mappers`` builds a set of every mapper on each access,
    and every history card asks once per type of record it names. A name without a model
    is looked up again next time (a plugin's models may be mapped later)."""
    found = _MODELS.get(entity_type)
    if found is not None:
        return found
    for mapper in Base.registry.mappers:
        if getattr(mapper.local_table, "name", None) == entity_type:
            _MODELS[entity_type] = mapper.class_
            return mapper.class_
    return None


def for_reader(session: Session, entries: Iterable[AuditEntry], user: Any,
               host: Any = None) -> list[AuditEntry]:
    """``entries``, each knowing which of the records its summary names ``user`` may see,
    so :attr:`AuditEntry.summary_text` names those and masks the others ("a customer of
    another branch"). The one place every reader of the log goes through — the API, the log
    page, its export and the history panels of record pages. One query per type of record
    named, by the row filters of every list (:func:`carebiz.security.rows.hidden_ids`)."""
    from carebiz.security.rows import hidden_ids

    entries = list(entries)
    wanted: dict[str, set[Any]] = {}
    for entry in entries:
        for entity_type, record_id in [*entry.refs.values(), *entry.data_refs.values()]:
            wanted.setdefault(entity_type, set()).add(record_id)
    host = host or session.info.get("carebiz.host")
    hidden: dict[str, set[Any]] = {}
    for entity_type, ids in wanted.items():
        model = _model_of(entity_type)
        hidden[entity_type] = (ids if model is None or not hasattr(model, "id")  # deny
                               else hidden_ids(session, model, user, ids, host))
    for entry in entries:
        entry._shown_refs = frozenset(
            name for name, (entity_type, record_id) in entry.refs.items()
            if record_id is not None and record_id not in hidden[entity_type])
        entry._shown_data = frozenset(
            name for name, (entity_type, record_id) in entry.data_refs.items()
            if record_id is not None and record_id not in hidden[entity_type])
    return entries
