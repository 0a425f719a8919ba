"""What the LRS keeps beside the statements: documents, attachments and a statement index."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from capcourse.extensions import db
from capcourse.timestamps import utcnow


class DocumentKind(enum.StrEnum):
    STATE = "state"
    ACTIVITY_PROFILE = "activity_profile"
    AGENT_PROFILE = "agent_profile"


class Document(db.Model):  # type: ignore[name-defined,misc]
    """One document of the State, Activity Profile or Agent Profile resource (xAPI Communication 2.2)."""

    __tablename__ = "lrs_documents"
    __table_args__ = (UniqueConstraint("scope_digest", "document_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Hex SHA-256 of kind, activity, agent key and registration: one short indexed key for long IRIs.
    scope_digest: Mapped[str] = mapped_column(String(64), index=True)
    #: Hex SHA-256 of the stateId or profileId.
    document_digest: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    #: The activity (State, Activity Profile) or "" (Agent Profile).
    activity_id: Mapped[str] = mapped_column(Text, default="")
    #: :func:`xapi.agent_key` of the agent (State, Agent Profile) or "" (Activity Profile).
    agent_key: Mapped[str] = mapped_column(String(600), default="")
    #: The registration in lower-case text, or "" (only State documents have one).
    registration_key: Mapped[str] = mapped_column(String(36), default="")
    #: stateId or profileId.
    document_id: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(300))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    #: Hex SHA-1 of the content: the ETag (Communication 3.1).
    etag: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Attachment(db.Model):  # type: ignore[name-defined,misc]
    """The raw data of a statement attachment, kept once per SHA-2 (Data 2.4.11)."""

    __tablename__ = "lrs_attachments"

    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(300))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IndexKind(enum.StrEnum):
    #: The actor or an Agent/Group object (``agent`` filter).
    AGENT = "agent"
    #: Anywhere an Agent may be: authority, instructor, team, group members, sub-statement (``related_agents``).
    RELATED_AGENT = "related_agent"
    #: The Activity object (``activity`` filter).
    ACTIVITY = "activity"
    #: Context activities and a sub-statement's activities (``related_activities``).
    RELATED_ACTIVITY = "related_activity"
    #: The statement a StatementRef object targets (statements that target a match are returned with it),
    #: as :func:`~capcourse.sqlfunctions.uuid_text` spells a stored statement's id, to follow references by a join.
    TARGET = "target"


class StatementIndex(db.Model):  # type: ignore[name-defined,misc]
    """Who and what a stored statement names, so the Statement resource's filters are indexed lookups.

    Derived from ``statements`` as a search index is: written only by
    :func:`~capcourse.lrs.retrieval.index_rows`, beside its statement, in the
    same transaction; statements are never deleted. So ``statement_pk`` has no
    foreign key (and no index for one): each would cost a lookup and a B-tree
    insert for every one of a statement's ~12 rows (migration 0022). Nor has the
    table a key of its own: rows are only inserted and looked up by ``(kind,
    value)``, and a surrogate ``id`` cost every row a sequence value and a B-tree
    insert, a quarter of the server's time copying a batch's rows (migration 0023).
    The mapper names ``(statement_pk, kind, value)`` as its identity (a statement's
    entries are a set), which the database need not enforce.
    """

    __tablename__ = "lrs_statement_index"
    __table_args__ = (Index("ix_lrs_statement_index_lookup", "kind", "value"),)

    statement_pk: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    #: An agent key, an activity IRI or a statement id (a digest when longer than the column).
    value: Mapped[str] = mapped_column(String(300))

    __mapper_args__ = {"primary_key": [statement_pk, kind, value]}
