"""Version moves: drift reports applied, the mappings they retired and the mappings they made

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'version_moves',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('programme_id', sa.Uuid(), nullable=False),
        sa.Column('from_framework_id', sa.Uuid(), nullable=False),
        sa.Column('to_framework_id', sa.Uuid(), nullable=False),
        sa.Column('from_label', sa.String(length=600), nullable=False),
        sa.Column('to_label', sa.String(length=600), nullable=False),
        sa.Column('actor', sa.String(length=300), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('summary', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_version_moves_programme_id_programmes'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_version_moves')),
    )
    with op.batch_alter_table('version_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_version_moves_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_version_moves_at'), ['at'], unique=False)

    op.create_table(
        'retired_mappings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('move_id', sa.Uuid(), nullable=False),
        sa.Column('programme_id', sa.Uuid(), nullable=False),
        sa.Column('mapping_id', sa.Uuid(), nullable=False),
        sa.Column('module_id', sa.Uuid(), nullable=True),
        sa.Column('activity_id', sa.Uuid(), nullable=True),
        sa.Column('item_id', sa.Uuid(), nullable=False),
        sa.Column('depth', sa.String(length=20), nullable=False),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('moved_to', sa.JSON(), nullable=False),
        sa.CheckConstraint('(module_id IS NULL) <> (activity_id IS NULL)', name=op.f('ck_retired_mappings_one_target')),
        sa.ForeignKeyConstraint(['move_id'], ['version_moves.id'], name=op.f('fk_retired_mappings_move_id_version_moves'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_retired_mappings_programme_id_programmes'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['module_id'], ['modules.id'], name=op.f('fk_retired_mappings_module_id_modules'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_retired_mappings_activity_id_activities'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['item_id'], ['framework_items.id'], name=op.f('fk_retired_mappings_item_id_framework_items'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retired_mappings')),
    )
    with op.batch_alter_table('retired_mappings', schema=None) as batch_op:
        for column in ('move_id', 'programme_id', 'module_id', 'activity_id', 'item_id'):
            batch_op.create_index(batch_op.f(f'ix_retired_mappings_{column}'), [column], unique=False)

    op.create_table(
        'moved_mappings',
        sa.Column('mapping_id', sa.Uuid(), nullable=False),
        sa.Column('move_id', sa.Uuid(), nullable=False),
        sa.Column('counts_from', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['move_id'], ['version_moves.id'], name=op.f('fk_moved_mappings_move_id_version_moves'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('mapping_id', name=op.f('pk_moved_mappings')),
    )
    with op.batch_alter_table('moved_mappings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moved_mappings_move_id'), ['move_id'], unique=False)


def downgrade():
    op.drop_table('moved_mappings')
    op.drop_table('retired_mappings')
    op.drop_table('version_moves')
