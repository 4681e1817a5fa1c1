"""Business rules of the core, free of Flask: they take a SQLAlchemy session, raise
:mod:`carebiz.errors` exceptions, and record domain events with :func:`carebiz.events.emit`.
Callers commit."""
