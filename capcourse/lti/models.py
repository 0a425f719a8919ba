"""Persistence of LTI 1.3 platforms, deployments, capcourse's own keys, and what launches link.

A platform (an LMS such as Moodle or Canvas) is registered once per issuer and
client id; each of its deployments is listed, and a launch from an unlisted
deployment is refused. OIDC state, nonces and one-time sign-in tokens live in
:class:`LtiStoredValue`, server-side with an expiry, so a launch inside an LMS
iframe works even where the browser drops third-party cookies.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capcourse.extensions import db
from capcourse.timestamps import utcnow


class LtiPlatform(db.Model):  # type: ignore[name-defined,misc]
    """An LMS registered with capcourse: where to send logins, where its keys are, which programme it feeds."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    #: The platform's ``iss``: its base URL for Moodle, ``https://canvas.instructure.com`` for Canvas.
    issuer: Mapped[str] = mapped_column(String(500))
    #: The client id the platform gave capcourse: the ``aud`` of its launches.
    client_id: Mapped[str] = mapped_column(String(500))
    #: OIDC authorisation endpoint: where a login initiation is answered.
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    #: OAuth 2 token endpoint, for the services (NRPS, AGS).
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    #: The platform's public keys (JWKS): launches are checked against them.
    key_set_url: Mapped[str] = mapped_column(String(1000))
    #: The ``aud`` of token requests when it is not the token URL (Brightspace).
    auth_audience: Mapped[str | None] = mapped_column(String(1000))
    #: The programme LMS courses become capcourse courses in (the admin picks it once).
    programme_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("programmes.id", ondelete="SET NULL"))
    #: Whether the LMS's administrators become capcourse admins (otherwise authors).
    admins_are_admins: Mapped[bool] = mapped_column(Boolean, default=False)
    #: manual or dynamic.
    registered_by: Mapped[str] = mapped_column(String(20), default="manual")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", passive_deletes=True, order_by="LtiDeployment.id"
    )


class LtiDeployment(db.Model):  # type: ignore[name-defined,misc]
    """One deployment of capcourse on a platform (a site-wide install, or one per course)."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    platform: Mapped[LtiPlatform] = relationship(back_populates="deployments")


class LtiKey(db.Model):  # type: ignore[name-defined,misc]
    """A key pair capcourse signs its LTI messages with (deep-linking responses, service tokens).

    The newest unretired key signs; retired keys stay in the JWKS until
    ``retired_at`` is old enough that nothing signed with them is still checked.
    """

    __tablename__ = "lti_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The RFC 7638 thumbprint of the public key, as pylti1p3 names it in JWT headers.
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:  # never the private key
        return f"<LtiKey {self.kid} retired={self.retired_at}>"


class LtiStoredValue(db.Model):  # type: ignore[name-defined,misc]
    """Short-lived launch data kept server-side: OIDC state, nonces, launch claims, one-time sign-in tokens."""

    __tablename__ = "lti_stored_values"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LtiContext(db.Model):  # type: ignore[name-defined,misc]
    """An LMS course (an LTI context) and the capcourse course it became."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    context_id: Mapped[str] = mapped_column(String(500))
    title: Mapped[str | None] = mapped_column(String(500))
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    #: The cohort the roster becomes (created with the first roster).
    cohort_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cohorts.id", ondelete="SET NULL"))
    #: The latest service endpoints a launch announced: NRPS memberships, AGS line items.
    memberships_url: Mapped[str | None] = mapped_column(String(1000))
    lineitems_url: Mapped[str | None] = mapped_column(String(1000))
    #: The AGS scopes the platform granted in its latest launch.
    ags_scopes: Mapped[list[str] | None] = mapped_column(JSON)
    roster_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    platform: Mapped[LtiPlatform] = relationship()


class LtiResourceLink(db.Model):  # type: ignore[name-defined,misc]
    """A link placed in an LMS course, and the capcourse module or activity it opens."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("platform_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    context_id: Mapped[int | None] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"), index=True)
    resource_link_id: Mapped[str] = mapped_column(String(500))
    title: Mapped[str | None] = mapped_column(String(500))
    module_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("modules.id", ondelete="SET NULL"))
    activity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    #: What a deep link asked the link to show: coverage, evidence or a module/activity page.
    view: Mapped[str | None] = mapped_column(String(50))


class LtiAccount(db.Model):  # type: ignore[name-defined,misc]
    """A person as a platform knows them (issuer and ``sub``): the capcourse user and/or learner they are."""

    __tablename__ = "lti_accounts"
    __table_args__ = (UniqueConstraint("platform_id", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="SET NULL"), index=True)
    last_launch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LtiLineItem(db.Model):  # type: ignore[name-defined,misc]
    """A gradebook column in an LMS course for one framework item: 1 when the learner attained it."""

    __tablename__ = "lti_line_items"
    __table_args__ = (UniqueConstraint("context_id", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("framework_items.id", ondelete="CASCADE"), index=True)
    #: The line item's URL at the platform (its id).
    url: Mapped[str] = mapped_column(String(1000))
    label: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    context: Mapped[LtiContext] = relationship()


class LtiScore(db.Model):  # type: ignore[name-defined,misc]
    """A score to post to a line item, once per attainment: an outbox entry, retried with backoff until delivered or dead."""

    __tablename__ = "lti_scores"
    __table_args__ = (UniqueConstraint("line_item_id", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("lti_line_items.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("lti_accounts.id", ondelete="CASCADE"), index=True)
    attainment_id: Mapped[int] = mapped_column(ForeignKey("attainments.id", ondelete="CASCADE"), index=True)
    score_given: Mapped[float] = mapped_column(Float)
    score_maximum: Mapped[float] = mapped_column(Float)
    #: pending, delivered or dead (as in the statement outbox).
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    line_item: Mapped[LtiLineItem] = relationship()
    account: Mapped[LtiAccount] = relationship()
