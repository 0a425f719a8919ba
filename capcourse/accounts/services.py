"""Users, passwords and API keys."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from capcourse.accounts.models import ApiKey, Role, User
from capcourse.catalogue.models import Programme
from capcourse.errors import ConflictError, InvalidInputError, NotFoundError, UnauthorizedError
from capcourse.prepared import Prepared
from capcourse.timestamps import utcnow

logger = logging.getLogger(__name__)

KEY_PREFIX = "cc_"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1000
#: zxcvbn's score (0-4) a password needs: 3 is "safely unguessable: moderate
#: protection from offline slow-hash scenario" (about 10^10 guesses).
MIN_PASSWORD_SCORE = 3
#: zxcvbn's work grows with length; what it reads of a longer password is plenty.
_SCORED_LENGTH = 72
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
#: Keys that act for a person reach that person's programmes; these need a user.
PERSONAL_ROLES = {Role.LEAD, Role.AUTHOR}


def _digest(key: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough: there is nothing to
    # brute-force, unlike a password.
    return hashlib.sha256(key.encode()).hexdigest()


def check_password_policy(password: str, user_inputs: Sequence[str] = ()) -> None:
    """Refuse short passwords and those easy to guess.

    Guessability is judged by zxcvbn (Dropbox's estimator, with its lists of
    common passwords, names, words and keyboard patterns), which also counts
    the person's own email and name as known to an attacker.

    :raises InvalidInputError: too short, too long, or guessable (with zxcvbn's advice).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters.",
            {"password": [f"At least {MIN_PASSWORD_LENGTH} characters."]},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"The password is too long: use at most {MAX_PASSWORD_LENGTH} characters.",
            {"password": [f"At most {MAX_PASSWORD_LENGTH} characters."]},
        )
    inputs = [part for text in user_inputs for part in re.split(r"[@.\s]+", text) if part] + [*user_inputs, "capcourse"]
    result = zxcvbn(password[:_SCORED_LENGTH], user_inputs=inputs, max_length=_SCORED_LENGTH)
    if result["score"] < MIN_PASSWORD_SCORE:
        feedback = result["feedback"]
        advice = " ".join([feedback.get("warning") or "", *feedback.get("suggestions", [])]).strip()
        raise InvalidInputError(
            f"The password is too easy to guess. {advice or 'Use a longer passphrase of unrelated words.'}",
            {"password": ["Too easy to guess: a common password, a pattern, or the person's name or email."]},
        )


def create_user(session: Session, email: str, name: str, role: str, password: str) -> User:
    """Create a user who signs in with ``email`` and ``password``.

    :raises InvalidInputError: bad email, role or password.
    :raises ConflictError: the email is taken.
    """
    email = email.strip().lower()
    errors: dict[str, list[str]] = {}
    if not EMAIL.match(email):
        errors["email"] = ["Not an email address."]
    if not name.strip():
        errors["name"] = ["Must not be empty."]
    if role not in {Role.ADMIN, Role.LEAD, Role.AUTHOR}:
        errors["role"] = ["One of: admin, lead, author."]
    if errors:
        raise InvalidInputError("The user has invalid fields: see errors.", errors)
    check_password_policy(password, [email, name])
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ConflictError(f"A user with the email {email} already exists.", {"email": ["Already in use."]})
    user = User(email=email, name=name.strip(), role=role, password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    logger.info("User %s (%s) created", email, role)
    return user


def find_user(session: Session, email: str) -> User:
    """:raises NotFoundError: nobody has that email."""
    user: User | None = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFoundError(f"No user has the email {email}.")
    return user


def authenticate_user(session: Session, email: str, password: str) -> User:
    """The active user with these credentials.

    :raises UnauthorizedError: wrong email or password (the message does not say which).
    """
    user: User | None = session.scalar(select(User).where(User.email == email.strip().lower()))
    # Hash anyway when the user is unknown, so timing does not reveal which emails exist.
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not valid or not user.is_active:
        raise UnauthorizedError("The email or password is not right.")
    user.last_login_at = utcnow()
    return user


_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def end_sessions(session: Session, user: User) -> None:
    """End every session of ``user``, on every device: cookies issued before no longer sign anyone in."""
    user.session_version = (user.session_version or 0) + 1
    session.flush()


def set_password(session: Session, user: User, password: str) -> None:
    """Change ``user``'s password and end their sessions.

    :raises InvalidInputError: the password fails :func:`check_password_policy`.
    """
    check_password_policy(password, [user.email, user.name])
    user.password_hash = generate_password_hash(password)
    end_sessions(session, user)
    logger.info("Password changed for user %s", user.id)


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.email)).all()


def set_active(session: Session, user: User, active: bool) -> User:
    """Disable (ending their sessions; their API keys stop working too) or enable a user.

    :raises ConflictError: disabling the last active admin would leave nobody to administer.
    """
    if not active and user.is_active:
        if user.role == Role.ADMIN:
            admins = session.scalar(
                select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.disabled_at.is_(None))
            )
            if (admins or 0) <= 1:
                raise ConflictError(
                    f"{user.email} is the last active admin; enable or create another admin first.",
                    {"active": ["The last active admin stays active."]},
                )
        user.disabled_at = utcnow()
        end_sessions(session, user)
        logger.info("User %s disabled", user.id)
    elif active and not user.is_active:
        user.disabled_at = None
        session.flush()
        logger.info("User %s enabled", user.id)
    return user


def ensure_first_admin(session: Session, email: str = "admin@capcourse.invalid") -> tuple[User, str] | None:
    """On an install with no users, create an admin with a random password.

    :returns: the user and the password (to show once), or None when users exist.
    """
    if session.scalar(select(func.count()).select_from(User)):
        return None
    password = secrets.token_urlsafe(16)
    return create_user(session, email, "Administrator", Role.ADMIN, password), password


def create_api_key(
    session: Session,
    name: str,
    role: str,
    user: User | None = None,
    programmes: Sequence[uuid.UUID] | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the plain key is returned once and never stored.

    :param programmes: an integration key's programmes (``None``: every programme).
    :raises InvalidInputError: unknown role, empty name, a lead/author key without its user,
        programmes for another role, or a programme that does not exist.
    """
    if programmes is not None:
        if role != Role.INTEGRATION:
            raise InvalidInputError("Only integration keys are limited to programmes.", {"programme": ["Not here."]})
        wanted = set(programmes)
        found = set(session.scalars(select(Programme.id).where(Programme.id.in_(wanted)))) if wanted else set()
        if not wanted or found != wanted:
            missing = sorted(str(p) for p in wanted - found) or ["none given"]
            raise InvalidInputError(
                f"No programme has the id {', '.join(missing)}.", {"programme": [f"Unknown: {', '.join(missing)}"]}
            )
    if role not in set(Role):
        raise InvalidInputError(f"Unknown role {role!r}.", {"role": [f"One of: {', '.join(Role)}"]})
    if not name.strip():
        raise InvalidInputError("A key needs a name.", {"name": ["Must not be empty."]})
    if role in PERSONAL_ROLES and user is None:
        raise InvalidInputError(
            f"A {role} key acts for a person: name the user it belongs to.", {"user": ["Required for this role."]}
        )
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name.strip(),
        role=role,
        user=user,
        prefix=plain[:10],
        key_hash=_digest(plain),
        programme_ids=None if programmes is None else sorted({str(p) for p in programmes}),
    )
    session.add(key)
    session.flush()
    logger.info("API key %s (%s) created for %r", key.prefix, role, key.name)
    return key, plain


_keys = ApiKey.__table__
_KEY_COLUMNS = ("id", "name", "role", "user_id", "prefix", "key_hash", "created_at", "last_used_at", "revoked_at",
                "programme_ids")  # fmt: skip
#: Every API request runs it: on the driver, as a row (an ORM load cost more than the rest of a small request).
_KEY_BY_HASH = Prepared(
    select(*(_keys.c[name] for name in _KEY_COLUMNS)).where(_keys.c.key_hash == bindparam("key_hash"))
)


#: Keys that stand alone (an LMS's integration key), as read in the last ``max_age`` seconds, by database
#: (the engine, or connection, sessions are bound to) and hash: when read, on the monotonic clock, and
#: the key's columns. An LMS posting statement after statement then costs no read (and on SQLite no
#: transaction) per request. A key revoked in this process is dropped at once; one revoked by another
#: process (another web worker, the command line) is refused there within ``max_age``. Keys of people
#: are never kept: disabling the person must end them at once.
_RECENT_KEYS: dict[tuple[object, str], tuple[float, dict[str, Any]]] = {}
#: Keys kept at most: a bound against a flood of valid keys, far above what LMSs use.
MAX_RECENT_KEYS = 1024


def recent_key(session: Session, plain: str, max_age: float) -> ApiKey | None:
    """The key that stands alone matching ``plain``, as :func:`authenticate_key` read it on this session's
    database within ``max_age`` seconds (a detached copy); None when it must be read. Runs no query."""
    if max_age <= 0:
        return None
    recent = _RECENT_KEYS.get((session.get_bind(), _digest(plain)))
    if recent is None or time.monotonic() - recent[0] >= max_age:
        return None
    return ApiKey(**recent[1])


def authenticate_key(session: Session, plain: str, max_age: float = 0.0) -> ApiKey:
    """The live key matching ``plain``.

    A person's key is loaded with its person; a key that stands alone (an
    integration's, an admin's) comes back as a detached copy, never added to
    the session: what a request reads of it (role, name, programmes) needs no
    identity map, and a change to keys goes through :func:`revoke_api_key` and the
    other services, by id.

    :param max_age: when above 0, a key that stands alone is kept for :func:`recent_key` to give
        for that many seconds without reading it again.
    :raises UnauthorizedError: unknown or revoked key.
    """
    digest = _digest(plain)
    rows = _KEY_BY_HASH.all(session, {"key_hash": digest})
    fields = dict(zip(_KEY_COLUMNS, rows[0], strict=True)) if rows else {}
    if not fields or not hmac.compare_digest(fields["key_hash"], digest):
        raise UnauthorizedError("The API key is not valid.")
    if fields["revoked_at"] is not None:
        raise UnauthorizedError("The API key has been revoked.")
    if fields["user_id"] is None:
        if max_age > 0:
            if len(_RECENT_KEYS) >= MAX_RECENT_KEYS:
                _RECENT_KEYS.clear()
            _RECENT_KEYS[session.get_bind(), digest] = (time.monotonic(), fields)
        return ApiKey(**fields)
    key = session.get(ApiKey, fields["id"])
    if key is None:  # deleted since the row was read
        raise UnauthorizedError("The API key is not valid.")
    if key.user is not None and not key.user.is_active:
        raise UnauthorizedError("The API key's user is disabled.")
    return key


def key_use_is_stale(key: ApiKey, now: datetime) -> bool:
    """Whether ``key``'s last use is worth writing down: a minute's precision is enough
    to see which keys are in use, and spares an LMS's every request a write."""
    last = key.last_used_at
    return last is None or (now - (last if last.tzinfo else last.replace(tzinfo=now.tzinfo))).total_seconds() > 60


def record_key_use(session: Session, key_id: int, now: datetime) -> None:
    """Write down that the key was used at ``now`` (unless a later use was written meanwhile)."""
    bind = session.get_bind()
    for (database, _), (_, fields) in list(_RECENT_KEYS.items()):
        if database is bind and fields["id"] == key_id:
            # The kept copy learns it too, or each request until it is read again would write it.
            fields["last_used_at"] = now
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now))
        .values(last_used_at=now)
    )


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()


def revoke_api_key(session: Session, prefix: str) -> ApiKey:
    """:raises NotFoundError: no key starts with ``prefix``."""
    key: ApiKey | None = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFoundError(f"No API key has the prefix {prefix!r}.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.flush()
    for kept in [kept for kept in list(_RECENT_KEYS) if kept[1] == key.key_hash]:  # a copy: other threads add
        _RECENT_KEYS.pop(kept, None)
    return key
