"""Domain-event signals: what each area declares, the registry of every declared signal, and
the session a receiver writes with.

Each area declares its signals in one module with :func:`declare`: the core's own in
:mod:`carebiz.signals.core`, the CRM's in :mod:`carebiz.crm.signals`, currency's in
:mod:`carebiz.currency.signals`, units' in :mod:`carebiz.units.signals`; a plugin in its own
``signals`` module. A service records an event with :func:`carebiz.events.emit`; the signal is
sent only after the service's transaction commits, with the Flask app as sender and the
declared arguments as keywords. :func:`declared` lists every signal with who sends it, when
and with what, for the docs and their test.

A receiver runs after the sender's commit, outside the sender's transaction: it reads and
writes through :func:`receiver_session`, never through the request's session.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from blinker import NamedSignal, Namespace

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: the modules that declare the core's signals, imported by :func:`declared`
CORE_SIGNAL_MODULES = (
    "carebiz.signals.core",
    "carebiz.crm.signals",
    "carebiz.currency.signals",
    "carebiz.units.signals",
    "carebiz.notify.signals",
)

#: every signal is made here, so one name is one signal in the whole process
_namespace = Namespace()


@dataclass(frozen=True)
class SignalSpec:
    """What a receiver may rely on about a signal.

    ``name`` is the signal's name (``area.event``); ``doc`` what happened; ``sent_by`` the
    service function(s) that emit it; ``arguments`` each keyword the receiver is called with
    and what it holds; ``module`` the module that declared it. Every signal is sent after the
    sender's transaction commits, with the Flask app as sender."""

    name: str
    doc: str
    sent_by: str
    arguments: Mapping[str, str]
    module: str
    signal: NamedSignal


_declared: dict[str, SignalSpec] = {}


def declare(name: str, doc: str, *, sent_by: str, arguments: Mapping[str, str],
            module: str | None = None) -> NamedSignal:
    """Declare a domain-event signal of an area and return it (a blinker signal).

    ``doc`` says what happened, ``sent_by`` names the service function(s) that send it and
    ``arguments`` maps each keyword argument to its meaning and type; the three make the
    signal's ``__doc__`` too. ``module`` is the declaring module's ``__name__`` (found from
    the caller when left out). A name is declared once: another module declaring the same
    name is a programming error; the same module declaring it again (a re-import) gets the
    same signal back, with the receivers connected to it."""
    if not doc.strip() or not sent_by.strip():
        raise ValueError(f"signal {name!r} needs a doc and the sender that sends it")
    if module is None:
        import sys

        module = sys._getframe(1).f_globals.get("__name__", "?")
    known = _declared.get(name)
    if known is not None and known.module != module:
        raise ValueError(f"signal {name!r} is declared by {known.module} already")
    text = " ".join(doc.split())
    listed = "; ".join(f"``{arg}``: {what}" for arg, what in arguments.items()) or "none"
    signal = _namespace.signal(name, doc=(f"{text}\n\nSent by {sent_by}, after the "
                                          f"transaction commits. Arguments: {listed}."))
    _declared[name] = SignalSpec(name, text, sent_by, MappingProxyType(dict(arguments)), module,
                                 signal)
    return signal


def declared() -> list[SignalSpec]:
    """Every declared signal, by name: the core's (their modules are imported here) and
    those of every plugin module imported in this process."""
    for path in CORE_SIGNAL_MODULES:
        importlib.import_module(path)
    return [_declared[name] for name in sorted(_declared)]


def spec_of(signal: NamedSignal) -> SignalSpec:
    """The declaration of ``signal`` (a ``KeyError`` for a signal not made by :func:`declare`)."""
    spec = _declared[signal.name]
    if spec.signal is not signal:
        raise KeyError(signal.name)
    return spec


@contextmanager
def receiver_session(sender: Flask, *, actor: Any = None) -> Iterator[Session]:
    """A session of its own for a receiver that writes to the database.

    A receiver runs after the sender's transaction has committed; that transaction is
    finished and must not be touched (SQLAlchemy refuses SQL on the sender's session at this
    point, and a request's ``db.session()`` belongs to the page that sent the signal). This
    opens a new session from the app's factory (``sender`` is the app the receiver is called
    with), commits it once when the block ends and closes it. On an error the receiver's
    work is rolled back and logged, and the error goes on to the event dispatcher, which logs
    the failed receiver and calls the others: the sender's change stays committed either way.

    ``actor`` (a user) is who the audit log names for changes made here; by default the
    logged-in user of the request, else "system". Events the receiver's own services emit are
    sent after this session commits, like any other."""
    session = sender.extensions["carebiz"].session_factory()
    if actor is not None:
        session.info["actor"] = actor
    try:
        yield session
        session.commit()
    except Exception as exc:
        session.rollback()  # the dispatcher logs the traceback with the receiver's name
        log.warning("rolled back a signal receiver's changes: %s", type(exc).__name__)
        raise
    finally:
        session.close()


__all__ = ["CORE_SIGNAL_MODULES", "SignalSpec", "declare", "declared", "receiver_session",
           "spec_of"]
