"""opportunities and configurable pipeline stages

Revision ID: sales_0003
Revises: sales_0002
Create Date: 2026-12-02 13:20:00
"""

from alembic import op
import sqlalchemy as sa
import carebiz.db


revision = 'sales_0003'
down_revision = 'sales_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sales_pipeline_stage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('brand', sa.String(length=60), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('probability', sa.SmallInteger(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('created_at', carebiz.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', carebiz.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('probability >= 0 AND probability <= 100', name=op.f('ck_sales_pipeline_stage_probability')),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_sales_pipeline_stage_branch_id_branch'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_pipeline_stage'))
    )
    with op.batch_alter_table('sales_pipeline_stage', schema=None) as batch_op:
        batch_op.create_index('ix_sales_pipeline_stage_scope', ['branch_id', 'brand'], unique=False)

    op.create_table('sales_opportunity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('prospect_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('brand', sa.String(length=60), nullable=False),
    sa.Column('model', sa.String(length=80), nullable=False),
    sa.Column('expected_value', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('expected_close_on', sa.Date(), nullable=True),
    sa.Column('salesperson_id', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('probability', sa.SmallInteger(), nullable=False),
    sa.Column('probability_manual', sa.Boolean(), nullable=False),
    sa.Column('weighted_value', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('stage_entered_at', carebiz.db.UTCDateTime(), nullable=False),
    sa.Column('closed_at', carebiz.db.UTCDateTime(), nullable=True),
    sa.Column('lost_reason', sa.String(length=60), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('created_at', carebiz.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', carebiz.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('expected_value >= 0 AND weighted_value >= 0', name=op.f('ck_sales_opportunity_value')),
    sa.CheckConstraint('probability >= 0 AND probability <= 100', name=op.f('ck_sales_opportunity_probability')),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_sales_opportunity_branch_id_branch')),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_sales_opportunity_created_by_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['party.id'], name=op.f('fk_sales_opportunity_customer_id_party')),
    sa.ForeignKeyConstraint(['order_id'], ['sales_order.id'], name=op.f('fk_sales_opportunity_order_id_sales_order'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['prospect_id'], ['sales_prospect.id'], name=op.f('fk_sales_opportunity_prospect_id_sales_prospect'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['salesperson_id'], ['user_account.id'], name=op.f('fk_sales_opportunity_salesperson_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_opportunity'))
    )
    with op.batch_alter_table('sales_opportunity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_opportunity_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_opportunity_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_opportunity_prospect_id'), ['prospect_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_opportunity_salesperson_id'), ['salesperson_id'], unique=False)
        batch_op.create_index('ix_sales_opportunity_close', ['expected_close_on', 'branch_id'], unique=False)
        batch_op.create_index('ix_sales_opportunity_status_stage', ['status', 'stage', 'branch_id'], unique=False)


def downgrade() -> None:
    op.drop_table('sales_opportunity')
    op.drop_table('sales_pipeline_stage')
