"""job leases: a running job's heartbeat, lease and runner, to detect dead jobs

Revision ID: core_0005
Revises: core_0004
Create Date: 2026-12-01 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import carebiz.db


revision = 'core_0005'
down_revision = 'core_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', carebiz.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('lease_until', carebiz.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('runner', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('runner')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('heartbeat_at')
