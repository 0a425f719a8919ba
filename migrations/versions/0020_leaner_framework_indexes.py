"""Leaner framework indexes: drop the single-column indexes no query needs alone

A CASE import writes every item and association of a package, and each index
is one more B-tree written per row (20,000 items and 40,000 associations in
the benchmark). These four were only ever read beside a framework (whose own
indexes find the rows) or to sort a framework's items, never to find rows
across frameworks: ``framework_items.code`` and ``stage``,
``framework_associations.association_type`` and ``managed_by``.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 20:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('framework_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_framework_items_code'))
        batch_op.drop_index(batch_op.f('ix_framework_items_stage'))
    with op.batch_alter_table('framework_associations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_framework_associations_association_type'))
        batch_op.drop_index(batch_op.f('ix_framework_associations_managed_by'))


def downgrade():
    with op.batch_alter_table('framework_associations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_framework_associations_managed_by'), ['managed_by'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_framework_associations_association_type'), ['association_type'], unique=False
        )
    with op.batch_alter_table('framework_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_framework_items_stage'), ['stage'], unique=False)
        batch_op.create_index(batch_op.f('ix_framework_items_code'), ['code'], unique=False)
