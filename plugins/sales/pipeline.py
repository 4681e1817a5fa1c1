"""What opportunities and the pipeline add to the plugin's contributions: permissions, menu
item, timeline kind, record page, blueprints. :mod:`.plugin` appends these to its own (one
line each), as it does :mod:`.commerce`'s; the list definition joins :data:`.lists.LISTS`
and the query sources and reports join :mod:`.queries`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from carebiz.contributions import MenuItem, Permission, RecordPage, TimelineKind

from . import api_pipeline, views_pipeline

PERMISSIONS = [
    Permission("sales.opportunities", _l("Open opportunities and move them along the pipeline"),
               default_roles=("manager", "salesperson"), weight=316),
    Permission("sales.pipeline_setup", _l("Set up pipeline stages per branch and make"),
               default_roles=("manager",), weight=317),
]

MENU = [MenuItem("sales.pipeline", _l("Pipeline"), "sales_pipeline.board",
                 permission="sales.view", section="main", icon="kanban", weight=304,
                 parent="sales")]

TIMELINE_KINDS = [TimelineKind("sales.opportunity", _l("Opportunity"), "kanban", weight=304)]

RECORD_PAGES = [RecordPage("sales_opportunity", "sales_pipeline.opportunity",
                           "opportunity_id", "sales.view", label=_l("Opportunity"))]

BLUEPRINTS = [api_pipeline.blp]
WEB_BLUEPRINTS = [views_pipeline.bp]
