"""The sales plugin: from walk-in to delivered car.

Prospects and their return visits, the showroom traffic log and test drives, quotations,
orders, vehicle stock and purchasing. It is the first industry plugin and the model the
others copy, so every piece sits where ``docs/plugin-guide.md`` says it goes:

- ``plugin.py``: the manifest and the hook implementations (composition only);
- ``models.py``: the tables (``sales_…``), owned by the plugin's own Alembic history;
- ``services/``: the business rules, one module per area, free of Flask requests, never
  committing (the caller owns the transaction);
- ``lists.py``: one list definition per collection, read by the page, the API and exports;
- ``api.py`` / ``views.py``: thin routes; ``schemas.py``: the API's shapes;
- ``signals.py``: the domain events other plugins receive without importing sales.
"""

__version__ = "0.1.0"
