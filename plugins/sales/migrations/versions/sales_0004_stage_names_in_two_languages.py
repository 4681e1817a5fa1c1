"""pipeline stage names in English and Simplified Chinese

A stage had one name, ``label``. It now has one per language: ``label`` is the English
name and ``label_zh`` the Chinese one. An existing name is put where its script says it
belongs: with a Chinese character it is Chinese (moved to ``label_zh``), else English
(kept in ``label``). Either way every reader sees what they saw before, since an empty
name shows the other language's; the move only puts the name in the box of its language
on the setup page, so a manager fills in the missing one. Downgrading keeps one name per
stage: the English one, else the Chinese one.

Revision ID: sales_0004
Revises: sales_0003
Create Date: 2026-12-03 09:00:00
"""

import re

from alembic import op
import sqlalchemy as sa


revision = 'sales_0004'
down_revision = 'sales_0003'
branch_labels = None
depends_on = None

# the same test as carebiz_plugins.sales.services.stage_names.language_of, copied so this
# revision keeps meaning what it meant when that module changes
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

_stage = sa.table('sales_pipeline_stage', sa.column('id', sa.Integer()),
                  sa.column('label', sa.String(80)), sa.column('label_zh', sa.String(80)))


def upgrade() -> None:
    with op.batch_alter_table('sales_pipeline_stage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label_zh', sa.String(length=80), server_default='',
                                      nullable=False))
    bind = op.get_bind()
    chinese = [row.id for row in bind.execute(sa.select(_stage.c.id, _stage.c.label))
               if _HAN.search(row.label or '')]
    for start in range(0, len(chinese), 500):
        bind.execute(_stage.update().where(_stage.c.id.in_(chinese[start:start + 500]))
                     .values(label_zh=_stage.c.label, label=''))


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(_stage.update().where(_stage.c.label == '')
                 .values(label=_stage.c.label_zh))
    with op.batch_alter_table('sales_pipeline_stage', schema=None) as batch_op:
        batch_op.drop_column('label_zh')
