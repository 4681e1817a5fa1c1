"""cache generation counters

Revision ID: core_0008
Revises: core_0007
Create Date: 2026-12-01 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = 'core_0008'
down_revision = 'core_0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cache_generation',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_cache_generation'))
    )


def downgrade() -> None:
    op.drop_table('cache_generation')
