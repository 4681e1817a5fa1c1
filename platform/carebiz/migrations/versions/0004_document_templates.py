"""document templates

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-11-29 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import carebiz.db


revision = 'core_0004'
down_revision = 'core_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('doc_type', sa.String(length=80), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('accent_colour', sa.String(length=7), nullable=True),
    sa.Column('logo', sa.Text(), nullable=True),
    sa.Column('updated_at', carebiz.db.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_template')),
    sa.UniqueConstraint('doc_type', name=op.f('uq_document_template_doc_type'))
    )


def downgrade() -> None:
    op.drop_table('document_template')
