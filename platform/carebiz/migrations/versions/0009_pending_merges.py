"""customer merges pending for switched-off plugins

Revision ID: core_0009_pending_merges
Revises: core_0008
Create Date: 2026-12-02 01:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

import carebiz.db


revision = 'core_0009_pending_merges'
down_revision = 'core_0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pending_merge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plugin', sa.String(length=64), nullable=False),
    sa.Column('keep_id', sa.Integer(), nullable=False),
    sa.Column('remove_id', sa.Integer(), nullable=False),
    sa.Column('merged_at', carebiz.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['keep_id'], ['party.id'], name=op.f('fk_pending_merge_keep_id_party')),
    sa.ForeignKeyConstraint(['remove_id'], ['party.id'], name=op.f('fk_pending_merge_remove_id_party')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_merge'))
    )
    with op.batch_alter_table('pending_merge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_merge_plugin'), ['plugin'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pending_merge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_merge_plugin'))
    op.drop_table('pending_merge')
