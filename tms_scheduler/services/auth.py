"""Users, passwords and bearer tokens."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import delete, select, update

from ..db import models
from ..domain.errors import RuleViolation, StateConflict
from ..domain.roles import ROLES
from .actor import Actor
from .runtime import Runtime

_hasher = PasswordHasher()
# Checked against when the username is unknown, so both answers take as long.
_DUMMY_HASH = _hasher.hash("not a real password")
MIN_PASSWORD_LENGTH = 8


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


def create_user(rt: Runtime, username: str, role: str, password: str, actor: Actor) -> models.User:
    if role not in ROLES:
        raise RuleViolation(f"Unknown role {role!r}", {"role": f"one of {', '.join(ROLES)}"})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RuleViolation("The password is too short",
                            {"password": f"at least {MIN_PASSWORD_LENGTH} characters"})
    with rt.transaction() as db:
        if db.scalar(select(models.User.id).where(models.User.username == username)) is not None:
            raise StateConflict(f"User {username!r} exists already", {"username": "taken"})
        user = models.User(username=username, role=role, password_hash=hash_password(password), active=True)
        db.add(user)
    return user


def issue_token(rt: Runtime, username: str, password: str, *, ttl: timedelta) -> IssuedToken:
    now = rt.now()
    with rt.transaction() as db:
        recent = list(db.scalars(
            select(models.SignInFailure.at).where(models.SignInFailure.username == username,
                                                  models.SignInFailure.at > now - SIGN_IN_WINDOW)
            .order_by(models.SignInFailure.at.desc()).limit(MAX_FAILED_SIGN_INS)
        ))
        if len(recent) >= MAX_FAILED_SIGN_INS:
            raise TooManySignIns(max(1, int((recent[-1] + SIGN_IN_WINDOW - now).total_seconds()) + 1))
        user = db.scalar(select(models.User).where(models.User.username == username))
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
            accepted = user is not None and user.active
        except (VerifyMismatchError, InvalidHashError):
            accepted = False
        if user is None or not accepted:
            db.add(models.SignInFailure(username=username, at=now))
            issued = None
        else:
            db.execute(delete(models.SignInFailure).where(models.SignInFailure.username == username))
            token = secrets.token_urlsafe(32)
            db.add(models.AuthToken(token_hash=hash_token(token), user_id=user.id, expires_at=now + ttl))
            issued = IssuedToken(token, now + ttl, user.role)
    if issued is None:  # raised only now, so the failure above is committed
        raise BadCredentials()
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
