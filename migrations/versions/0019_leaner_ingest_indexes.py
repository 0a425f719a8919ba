"""Leaner ingest indexes: drop indexes no query uses, and one outbox index for the delivery claim

Every statement capcourse takes writes a stored statement, its emitted
statement, a completion and an outbox row, and each index on those tables is
one more B-tree written per row (a fifth of a batch's cost on SQLite). These
were never read:

- ``statements.origin``, ``object_id`` and ``agent_key``: the Statement resource
  finds agents and activities through ``lrs_statement_index``; ``origin`` is only
  ever checked beside an ``id``, which is unique;
- ``completions.programme_id``: ``ix_completions_programme_success_learner``
  starts with it;
- ``outbox.state``, ``destination`` and ``next_attempt_at`` on their own: the
  delivery claim asks for all three at once, and the counts by state and
  destination read the same composite index.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 20:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statements_origin'))
        batch_op.drop_index(batch_op.f('ix_statements_object_id'))
        batch_op.drop_index(batch_op.f('ix_statements_agent_key'))
    with op.batch_alter_table('completions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_completions_programme_id'))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_state'))
        batch_op.drop_index(batch_op.f('ix_outbox_destination'))
        batch_op.drop_index(batch_op.f('ix_outbox_next_attempt_at'))
        batch_op.create_index('ix_outbox_claim', ['state', 'destination', 'next_attempt_at'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_claim')
        batch_op.create_index(batch_op.f('ix_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_destination'), ['destination'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_state'), ['state'], unique=False)
    with op.batch_alter_table('completions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_completions_programme_id'), ['programme_id'], unique=False)
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statements_agent_key'), ['agent_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_statements_object_id'), ['object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_statements_origin'), ['origin'], unique=False)
