"""Merging two records of the same customer into one, with every plugin's rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carebiz.concurrency import bumped, lock
from carebiz.crm import signals
from carebiz.crm.models import (
    ContactLink,
    Party,
    PartyEmail,
    PartyPhone,
    PartyRole,
    PartyTag,
    PartyValue,
    RevenueEvent,
    TimelineEntry,
    Vehicle,
    VehicleOwnership,
)
from carebiz.crm.services.common import host_of
from carebiz.crm.services.parties import snapshot
from carebiz.errors import Conflict
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.models import PendingMerge


def merge_parties(session: Session, keep: Party, remove: Party, *, user: Any = None) -> Party:
    """Move everything of ``remove`` to ``keep`` in one transaction: phones, e-mails, roles,
    tags, contacts, vehicles and their ownership history, timeline, revenue and value, then
    every plugin's rows through the ``customer_merge`` hook. ``remove`` stays as an inactive
    pointer (``merged_into_id``) so old links still lead somewhere.

    Two merges of the same customers at once (A into B and B into A, or the same merge
    twice) must not both run: both rows are locked and read afresh before anything is
    checked, so the second merge waits for the first and then refuses with a 409 saying
    what happened, instead of merging a customer into itself."""
    if keep.id == remove.id:
        raise Conflict(_("A customer cannot be merged with itself."))
    rows = lock(session, Party, [keep.id, remove.id])
    if len(rows) < 2:
        raise Conflict(_("One of these customers no longer exists."))
    for party in (keep, remove):
        if not party.active:
            raise Conflict(_("Customer #%(id)s (%(name)s) was merged into customer #%(into)s "
                             "a moment ago, perhaps by someone else; nothing was changed. "
                             "Open customer #%(into)s to continue.", id=party.id,
                             name=party.name, into=party.merged_into_id))
    if keep.kind != remove.kind:
        raise Conflict(_("A person and an organization cannot be merged."))
    before_keep, before_remove = snapshot(keep), snapshot(remove)

    phones = list(dict.fromkeys(keep.phone_numbers + remove.phone_numbers))
    emails = list(dict.fromkeys(keep.email_addresses + remove.email_addresses))
    roles = sorted(set(keep.roles) | set(remove.roles))
    tags = sorted(set(keep.tags) | set(remove.tags))
    remove.phones, remove.emails, remove.role_rows, remove.tag_rows = [], [], [], []
    session.flush()
    keep.phones = [PartyPhone(e164=p, position=i) for i, p in enumerate(phones)]
    keep.emails = [PartyEmail(email=e, position=i) for i, e in enumerate(emails)]
    keep.role_rows = [PartyRole(role=r) for r in roles]
    keep.tag_rows = [PartyTag(tag=t) for t in tags]
    for field in ("id_kind", "id_number", "gender", "birthday", "source", "province", "city",
                  "district", "street", "postal_code", "preferred_channel"):
        if not getattr(keep, field) and getattr(remove, field):
            setattr(keep, field, getattr(remove, field))
    keep.custom = {**(remove.custom or {}), **(keep.custom or {})}
    keep.do_not_contact = keep.do_not_contact or remove.do_not_contact
    if remove.notes:
        keep.notes = "\n".join(filter(None, [keep.notes, remove.notes]))

    for model, column in ((Vehicle, Vehicle.owner_id),
                          (VehicleOwnership, VehicleOwnership.party_id),
                          (TimelineEntry, TimelineEntry.party_id),
                          (RevenueEvent, RevenueEvent.party_id)):
        session.execute(update(model).where(column == remove.id)
                        .values({column.key: keep.id, **bumped(model)}))
    _merge_contacts(session, keep, remove)
    _merge_value(session, keep.id, remove.id)
    session.execute(update(Party).where(Party.merged_into_id == remove.id)
                    .values(merged_into_id=keep.id, **bumped(Party)))
    host = host_of(session)
    host.call("customer_merge", session=session, keep=keep, remove=remove)
    _leave_for_switched_off(session, host, keep, remove)

    remove.active = False
    remove.merged_into_id = keep.id
    session.flush()
    emit(session, signals.customer_merged, kept_id=keep.id, removed_id=remove.id,
         audit=Audit("party", keep.id, N_("Customer #%(removed)s merged into %(name)s"),
                     {"kept": before_keep, "removed": before_remove}, snapshot(keep),
                     branch_id=keep.branch_id, args={"removed": remove.id, "name": keep.name},
                     data_refs={"removed": ("party", remove.id)}, version=keep.version))
    emit(session, signals.customer_updated, party_id=remove.id,
         changes={"merged_into_id": keep.id},
         audit=Audit("party", remove.id, N_("Merged into customer #%(kept)s"),
                     None, {"merged_into_id": keep.id}, branch_id=remove.branch_id,
                     args={"kept": keep.id}, version=remove.version))
    return keep


def _leave_for_switched_off(session: Session, host: Any, keep: Party, remove: Party) -> None:
    """Record the merge for every installed plugin with a ``customer_merge`` hook that is
    switched off now, so it re-points its rows when switched on again."""
    active = host.active_names()
    for plugin in host.implementers("customer_merge"):
        if plugin not in active:
            session.add(PendingMerge(plugin=plugin, keep_id=keep.id, remove_id=remove.id))


def reconcile_pending(session: Session, host: Any, plugin: str) -> int:
    """Hand ``plugin`` (just switched on) the merges done while it was off, oldest first, so
    chains (A into B, later B into C) end at the customer that stays; return how many. Runs
    in the switching transaction: a refusing plugin (``Conflict``) keeps the switch off."""
    pending = session.scalars(select(PendingMerge).where(PendingMerge.plugin == plugin)
                              .order_by(PendingMerge.id)).all()
    for row in pending:
        keep, remove = session.get(Party, row.keep_id), session.get(Party, row.remove_id)
        host.call_plugin(plugin, "customer_merge", session=session, keep=keep, remove=remove)
        session.delete(row)
    session.flush()
    return len(pending)


def _merge_contacts(session: Session, keep: Party, remove: Party) -> None:
    for column, other in ((ContactLink.organization_id, ContactLink.person_id),
                          (ContactLink.person_id, ContactLink.organization_id)):
        links = session.scalars(select(ContactLink).where(column == remove.id)).all()
        for link in links:
            other_id = getattr(link, other.key)
            if other_id == keep.id:
                session.delete(link)
                continue
            key = ((keep.id, other_id) if column is ContactLink.organization_id
                   else (other_id, keep.id))
            if session.get(ContactLink, key) is not None:
                session.delete(link)
            else:
                setattr(link, column.key, keep.id)
    session.flush()


def _merge_value(session: Session, keep_id: int, remove_id: int) -> None:
    gone = session.get(PartyValue, remove_id)
    if gone is None:
        return
    kept = session.get(PartyValue, keep_id)
    if kept is None:
        session.execute(update(PartyValue).where(PartyValue.party_id == remove_id)
                        .values(party_id=keep_id))
        session.expire(gone)
        return
    kept.lifetime_value += gone.lifetime_value
    kept.purchases += gone.purchases
    kept.first_purchase = min(filter(None, [kept.first_purchase, gone.first_purchase]),
                              default=None)
    kept.last_purchase = max(filter(None, [kept.last_purchase, gone.last_purchase]),
                             default=None)
    total = kept.satisfaction_count + gone.satisfaction_count
    if total:
        weighted = ((kept.satisfaction or Decimal(0)) * kept.satisfaction_count
                    + (gone.satisfaction or Decimal(0)) * gone.satisfaction_count)
        kept.satisfaction = (weighted / total).quantize(Decimal("0.01"))
    kept.satisfaction_count = total
    session.delete(gone)
    session.flush()
