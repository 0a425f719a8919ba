"""The statement index without a foreign key: rows written only beside their statement

``lrs_statement_index`` is derived from ``statements``, as a search index is:
its rows are written by the code that has just inserted their statement, in
the same transaction, and statements are never deleted (an LRS keeps them;
voiding marks them). The foreign key to ``statements.pk`` and the index on
``statement_pk`` it needed for ``ON DELETE CASCADE`` guarded against nothing
that can happen, and cost a lookup and a B-tree insert for each of the ~12
index rows of every statement (5-7% of a batch on PostgreSQL, bench/ingest.py).
Every query reaches the index by ``(kind, value)``.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 10:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lrs_statement_index', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_lrs_statement_index_statement_pk_statements'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_lrs_statement_index_statement_pk'))


def downgrade():
    # Rows whose statement is gone (none, unless statements were deleted by hand) would break the key.
    op.execute("DELETE FROM lrs_statement_index WHERE statement_pk NOT IN (SELECT pk FROM statements)")
    with op.batch_alter_table('lrs_statement_index', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lrs_statement_index_statement_pk'), ['statement_pk'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_lrs_statement_index_statement_pk_statements'),
            'statements',
            ['statement_pk'],
            ['pk'],
            ondelete='CASCADE',
        )
