"""Curriculum areas per item: several per item, each with provenance and rationale

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 09:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('area_links',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('framework_id', sa.Uuid(), nullable=False),
    sa.Column('item_id', sa.Uuid(), nullable=False),
    sa.Column('area_item_id', sa.Uuid(), nullable=False),
    sa.Column('provenance', sa.String(length=20), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.String(length=300), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_item_id'], ['framework_items.id'], name=op.f('fk_area_links_area_item_id_framework_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['framework_id'], ['frameworks.id'], name=op.f('fk_area_links_framework_id_frameworks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['framework_items.id'], name=op.f('fk_area_links_item_id_framework_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_area_links')),
    sa.UniqueConstraint('item_id', 'area_item_id', name=op.f('uq_area_links_item_id_area_item_id'))
    )
    with op.batch_alter_table('area_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_links_area_item_id'), ['area_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_area_links_framework_id'), ['framework_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_area_links_item_id'), ['item_id'], unique=False)


def downgrade():
    with op.batch_alter_table('area_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_links_item_id'))
        batch_op.drop_index(batch_op.f('ix_area_links_framework_id'))
        batch_op.drop_index(batch_op.f('ix_area_links_area_item_id'))

    op.drop_table('area_links')
