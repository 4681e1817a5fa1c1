"""Business rules of sales, one module per area, free of Flask requests.

Every function takes the SQLAlchemy session, validates (all broken rules at once, by
field), changes the database, flushes when it needs ids, records its audit entry and domain
event with :func:`carebiz.events.emit`, and never commits: the page, the API, the demo
loader, a job and a test call the same function and own the transaction.

- :mod:`.choices`: the configurable lists (sources, points of interest, lost reasons);
- the state machines come from :mod:`carebiz.toolkit.transitions` (an illegal move: 409);
- :mod:`.prospects`: registering, reviewing and closing prospects;
- :mod:`.visits`: return visits (回访) on the customer's timeline;
- :mod:`.dashboard`: the day's figures and breakdowns;
- :mod:`.showroom`: the traffic log; :mod:`.drives`: demo cars and bookings.
"""
