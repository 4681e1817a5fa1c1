"""gps_waybill.consignee_email

Revision ID: gps_0004
Revises: gps_0003
Create Date: 2026-12-03 06:20:00

The consignee's e-mail address, optional: a bare install ships e-mail and in-app channels
only, so a consignee known by phone alone is told nothing until an SMS gateway is added.
Existing waybills get an empty address (no notice by e-mail), as the model's default.
"""

from alembic import op
import sqlalchemy as sa

revision = 'gps_0004'
down_revision = 'gps_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('gps_waybill') as batch:
        batch.add_column(sa.Column('consignee_email', sa.String(length=254), nullable=False,
                                   server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('gps_waybill') as batch:
        batch.drop_column('consignee_email')
