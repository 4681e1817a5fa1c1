"""record versions

Editable records carry a version (optimistic locking against lost updates), and audit
entries the version a change produced, so a conflict can say what changed since.

Revision ID: core_0006
Revises: core_0005
Create Date: 2026-12-01 12:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = 'core_0006'
down_revision = 'core_0005'
branch_labels = None
depends_on = None

VERSIONED = ('party', 'vehicle', 'branch', 'saved_query', 'document_template')


def upgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('version', sa.Integer(), server_default='1',
                                       nullable=False))
    with op.batch_alter_table('audit_entry') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_entry') as batch:
        batch.drop_column('version')
    for table in reversed(VERSIONED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('version')
