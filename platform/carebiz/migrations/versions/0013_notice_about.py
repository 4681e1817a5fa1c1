"""notification deliveries name the record they are about

Revision ID: core_0013_notice_about
Revises: core_0012_notifications
Create Date: 2026-12-02 20:50:00.000000

A notice to someone who is no user (a waybill's consignee, issue 12) cannot be looked up on
the bell: the record's own page shows what became of it. ``about_type``/``about_id`` say which
record a delivery belongs to (``gps_waybill_event``, 12), indexed for that page. Existing rows
get an empty type. The ``unsent`` status (no channel could take the address) needs no change:
``status`` is a plain string.
"""

from alembic import op
import sqlalchemy as sa


revision = 'core_0013_notice_about'
down_revision = 'core_0012_notifications'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notification_delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('about_type', sa.String(length=40), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('about_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_notification_delivery_about', ['about_type', 'about_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_delivery_about')
        batch_op.drop_column('about_id')
        batch_op.drop_column('about_type')
