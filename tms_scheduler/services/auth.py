"""Users, passwords and bearer tokens; the sign-in limit; the administrator's account operations."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import BigInteger, cast, delete, func, select, update
from sqlalchemy.orm import Session

from .. import metrics
from ..db import models
from ..domain.errors import NotFound, RuleViolation, StateConflict
from ..domain.roles import ROLES
from . import audit
from .actor import Actor
from .runtime import Runtime

_hasher = PasswordHasher()
# Checked against when the username is unknown, so both answers take as long.
_DUMMY_HASH = _hasher.hash("not a real password")

# A new user's password: at least this long, with at least this many different characters, not
# containing the username (case aside) and not one of COMMON_PASSWORDS (case aside).
MIN_PASSWORD_LENGTH = 12
MIN_PASSWORD_DISTINCT_CHARACTERS = 5
# Among the commonest passwords of the leaked lists, those long enough to pass the length rule
# (the shorter ones fail it anyway), and the service's own names. Compared lower-cased.
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678901234", "123456789000", "123456123456", "123123123123",
    "098765432109", "987654321098", "0123456789012",
    "1q2w3e4r5t6y", "1q2w3e4r5t6y7u", "q1w2e3r4t5y6", "1qaz2wsx3edc", "1qazxsw23edc", "zaq12wsxcde3",
    "qazwsxedcrfv", "qwertyuiop12", "qwertyuiop123", "qwerty123456", "qwerty1234567", "qwertyuiopasdf",
    "qwertyuiopasdfgh", "asdfghjkl123", "asdfghjkl1234", "zxcvbnm12345", "zxcvbnm123456", "asdfasdfasdf",
    "qwerqwerqwer", "abcdefghijkl", "abcdefgh1234", "abc123abc123", "abcd12345678", "abcdef123456",
    "password1234", "password12345", "password123456", "password!234", "password@123", "password123!",
    "passw0rd1234", "p@ssw0rd1234", "p@ssword1234", "p@ssw0rd123!", "mypassword123", "mypassword1234",
    "passwordpassword", "password1password1", "thisismypassword", "newpassword123", "temppassword",
    "iloveyou1234", "iloveyou12345", "iloveyou123456", "loveyou12345", "welcome12345", "welcome@1234",
    "welcome123456", "letmein12345", "letmeinletmein", "changeme1234", "changeme12345", "administrator",
    "administrator1", "admin1234567", "admin@123456", "admin123456789", "trustno1trustno1", "football1234",
    "baseball1234", "basketball12", "superman1234", "batman123456", "princess1234", "sunshine1234",
    "starwars1234", "monkey123456", "dragon123456", "master123456", "shadow123456", "michael12345",
    "jennifer1234", "charlie12345", "computer1234", "internet1234", "whatever1234", "freedom12345",
    "hello1234567", "helloworld12", "helloworld123", "secret123456", "default12345", "test12345678",
    "testtest1234", "correcthorsebatterystaple", "tmsscheduler", "tms-scheduler", "tms_scheduler",
    "oakhealthcenter", "oak-health-center",
})


# After this many failed sign-ins for one username within the window, sign-in is refused
# until the window has passed, for known and unknown names alike.
MAX_FAILED_SIGN_INS = 5
SIGN_IN_WINDOW = timedelta(minutes=15)


class BadCredentials(Exception):
    pass


class TooManySignIns(Exception):
    def __init__(self, retry_after_seconds: int):
        super().__init__(f"too many failed sign-ins; retry in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class Caller:
    user_id: int
    username: str
    role: str
    token_id: int


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    role: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_problem(username: str, password: str) -> str | None:
    """Why a password is too weak for this user, in a sentence; None if it is strong enough."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password is too short: it needs at least {MIN_PASSWORD_LENGTH} characters"
    if username and username.casefold() in password.casefold():
        return "The password contains the username"
    if password.lower() in COMMON_PASSWORDS:
        return "The password is one of the commonest passwords"
    if len(set(password)) < MIN_PASSWORD_DISTINCT_CHARACTERS:
        return (f"The password repeats too few characters: it needs at least {MIN_PASSWORD_DISTINCT_CHARACTERS} "
                "different ones")
    return None


def create_user(rt: Runtime, username: str, role: str, password: str, actor: Actor) -> models.User:
    """Adds a user (an admin through the API, or an operator with `flask users create`); noted in the audit trail."""
    if role not in ROLES:
        raise RuleViolation(f"Unknown role {role!r}", {"role": f"one of {', '.join(ROLES)}"})
    weakness = password_problem(username, password)
    if weakness is not None:
        raise RuleViolation(weakness, {"password": weakness})
    now = rt.now()
    with rt.transaction() as db:
        if db.scalar(select(models.User.id).where(models.User.username == username)) is not None:
            raise StateConflict(f"User {username!r} exists already", {"username": "taken"})
        user = models.User(username=username, role=role, password_hash=hash_password(password), active=True,
                           created_at=now)
        db.add(user)
        db.flush()
        audit.note(db, actor, now, audit.CREATE, audit.USER, user.id)
    return user


def _serialise_sign_ins(db: Session, username: str) -> None:
    """The lock under which one sign-in of a username at a time counts its failures, checks the password and
    records a failure, so that no more than MAX_FAILED_SIGN_INS passwords are ever checked in the window
    however many requests, threads and processes try at once. Taken first in the transaction, held to its end.

    PostgreSQL: a transaction-level advisory lock on a stable 64-bit hash of the name (SHA-256, not Python's
    salted hash(), so every process takes the same lock); sign-ins for other names are not held up.
    SQLite: every transaction starts with BEGIN IMMEDIATE (db/engine.py), so writers take turns already and
    the first statement of this transaction waits for the write lock; nothing more to take.
    """
    if db.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(b"tms_scheduler sign-in\0" + username.encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        db.execute(select(func.pg_advisory_xact_lock(cast(key, BigInteger))))


def issue_token(rt: Runtime, username: str, password: str, actor: Actor, *, ttl: timedelta) -> IssuedToken:
    """A bearer token for a user's name and password; every attempt, refused or not, is in the audit trail."""
    now = rt.now()
    refused: Exception | None = None
    issued: IssuedToken | None = None
    attempt = replace(actor, username=username[:200])
    with rt.transaction() as db:
        _serialise_sign_ins(db, username)
        recent = list(db.scalars(
            select(models.SignInFailure.at).where(models.SignInFailure.username == username,
                                                  models.SignInFailure.at > now - SIGN_IN_WINDOW)
            .order_by(models.SignInFailure.at.desc()).limit(MAX_FAILED_SIGN_INS)
        ))
        if len(recent) >= MAX_FAILED_SIGN_INS:
            # No password is checked and no user row read: the answer and its time are the same for a
            # known and an unknown name (and checking a dummy hash here would only let a locked-out
            # guesser spend the server's CPU).
            refused = TooManySignIns(max(1, int((recent[-1] + SIGN_IN_WINDOW - now).total_seconds()) + 1))
            audit.note(db, attempt, now, audit.SIGN_IN_FAILED, audit.USER, username)
        else:
            user = db.scalar(select(models.User).where(models.User.username == username))
            try:
                _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
                accepted = user is not None and user.active
            except (VerifyMismatchError, InvalidHashError):
                accepted = False
            if user is None or not accepted:
                db.add(models.SignInFailure(username=username, at=now))
                audit.note(db, attempt, now, audit.SIGN_IN_FAILED, audit.USER, username)
                refused = BadCredentials()
            else:
                db.execute(delete(models.SignInFailure).where(models.SignInFailure.username == username))
                token = secrets.token_urlsafe(32)
                db.add(models.AuthToken(token_hash=hash_token(token), user_id=user.id, expires_at=now + ttl))
                audit.note(db, replace(actor, user_id=user.id, username=user.username, role=user.role), now,
                           audit.SIGN_IN, audit.USER, user.id)
                issued = IssuedToken(token, now + ttl, user.role)
    if refused is not None:  # raised only now, so the attempt and its audit row are committed
        metrics.sign_in_failed("locked" if isinstance(refused, TooManySignIns) else "credentials")
        raise refused
    assert issued is not None
    return issued


def caller_for(rt: Runtime, token: str) -> Caller | None:
    """The signed-in user a bearer token stands for, or None if it is unknown, expired or revoked."""
    now = rt.now()
    with rt.sessions() as db:
        row = db.execute(
            select(models.AuthToken.id, models.User.id, models.User.username, models.User.role)
            .join(models.User, models.User.id == models.AuthToken.user_id)
            .where(models.AuthToken.token_hash == hash_token(token), models.AuthToken.expires_at > now,
                   models.AuthToken.revoked_at.is_(None), models.User.active.is_(True))
        ).first()
    if row is None:
        return None
    token_id, user_id, username, role = row
    return Caller(user_id, username, role, token_id)


def revoke_token(rt: Runtime, token_id: int) -> None:
    now = rt.now()
    with rt.transaction() as db:
        db.execute(update(models.AuthToken).where(models.AuthToken.id == token_id).values(revoked_at=now))


def purge_expired_tokens(rt: Runtime) -> int:
    """Drops tokens that expired over a day ago, and failed sign-ins past their window."""
    now = rt.now()
    with rt.transaction() as db:
        removed = db.scalars(delete(models.AuthToken).where(models.AuthToken.expires_at < now - timedelta(days=1))
                             .returning(models.AuthToken.id)).all()
        db.execute(delete(models.SignInFailure).where(models.SignInFailure.at < now - SIGN_IN_WINDOW))
        return len(removed)


# --- the administrator's account operations

# What the audit trail says of them (entity USER, or TOKEN for a user's tokens; entity_id the user's id).
DISABLE, ENABLE, REVOKE = "disable", "enable", "revoke"


@dataclass(frozen=True)
class RevokedTokens:
    user_id: int
    revoked: int  # how many of the user's tokens were still working


def list_users(rt: Runtime, actor: Actor, *, limit: int = 50, offset: int = 0) -> list[models.User]:
    """Every user, oldest first, with the role and whether they may sign in (never a password hash)."""
    with rt.reading() as db:
        return list(db.scalars(select(models.User).order_by(models.User.id).limit(limit).offset(offset)))


def disable_user(rt: Runtime, user_id: int, actor: Actor) -> models.User:
    """The user can no longer sign in, and every token of theirs stops working at once (revoked, so enabling
    them again brings none back). An admin may not disable themself."""
    if user_id == actor.user_id:
        raise StateConflict("You may not disable your own account; another admin can",
                            {"user_id": "your own account"})
    now = rt.now()
    with rt.transaction() as db:
        user = _user(db, user_id)
        _serialise_sign_ins(db, user.username)  # a sign-in in flight finishes before, or finds them disabled
        user.active = False
        _revoke_tokens_of(db, user.id, now)
        audit.note(db, actor, now, DISABLE, audit.USER, user.id)
    return user


def enable_user(rt: Runtime, user_id: int, actor: Actor) -> models.User:
    """A disabled user may sign in again (with the password they had)."""
    now = rt.now()
    with rt.transaction() as db:
        user = _user(db, user_id)
        user.active = True
        audit.note(db, actor, now, ENABLE, audit.USER, user.id)
    return user


def revoke_user_tokens(rt: Runtime, user_id: int, actor: Actor) -> RevokedTokens:
    """Every token of the user stops working (they sign in again); answers how many were still working."""
    now = rt.now()
    with rt.transaction() as db:
        user = _user(db, user_id)
        revoked = _revoke_tokens_of(db, user.id, now)
        audit.note(db, actor, now, REVOKE, audit.TOKEN, user.id)
    return RevokedTokens(user.id, revoked)


def _user(db: Session, user_id: int) -> models.User:
    user = db.get(models.User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}")
    return user


def _revoke_tokens_of(db: Session, user_id: int, now: datetime) -> int:
    revoked = db.scalars(update(models.AuthToken)
                         .where(models.AuthToken.user_id == user_id, models.AuthToken.revoked_at.is_(None),
                                models.AuthToken.expires_at > now)
                         .values(revoked_at=now).returning(models.AuthToken.id)).all()
    return len(revoked)
