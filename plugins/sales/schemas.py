"""The API's shapes. Schemas check types and document the API; the business rules stay in
:mod:`carebiz_plugins.sales.services`, so the pages and the API share them.

Class names carry the ``Sales`` prefix: they become component names of the one shared
OpenAPI document."""

from __future__ import annotations
