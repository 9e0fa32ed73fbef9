"""Passwords (argon2id), our access tokens (HS256 JWT), refresh token secrets, Entra ID tokens.

Every JWT is verified with an explicit algorithm list, audience, issuer, expiry and required claims.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import re
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from khipu.core.errors import InvalidInput, NotAuthenticated, ServiceUnavailable

ACCESS_ALGORITHMS = ["HS256"]
ENTRA_ALGORITHMS = ["RS256"]
#: Entra's clocks and ours may disagree a little; Microsoft's own libraries allow 5 minutes.
ENTRA_CLOCK_SKEW_SECONDS = 60
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti", "tenant_id", "role"]


class WeakPassword(InvalidInput):
    title = "Password too weak"


class InvalidToken(NotAuthenticated):
    title = "Invalid token"


def check_password_policy(password: str) -> None:
    """At least 12 characters, with an upper-case and a lower-case letter, a digit and a symbol."""
    missing = []
    if len(password) < 12:
        missing.append("at least 12 characters")
    if not re.search(r"[A-Z]", password):
        missing.append("an upper-case letter")
    if not re.search(r"[a-z]", password):
        missing.append("a lower-case letter")
    if not re.search(r"[0-9]", password):
        missing.append("a digit")
    if not re.search(r"[^A-Za-z0-9]", password):
        missing.append("a symbol")
    if len(password) > 256:
        raise WeakPassword("Passwords are limited to 256 characters.")
    if missing:
        raise WeakPassword("The password needs " + ", ".join(missing) + ".")


class PasswordHashing:
    """argon2id; hashing is CPU work, so the async helpers run it in a thread."""

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Verified against when an email is unknown, so timing does not reveal which emails exist.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def verify() -> bool:
            try:
                return self._hasher.verify(password_hash or self._dummy_hash, password) and bool(
                    password_hash
                )
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(verify)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: UUID
    tenant_id: UUID
    role: str
    jti: str
    expires_at: int


class AccessTokens:
    """Issue and verify our 15-minute access tokens."""

    def __init__(self, *, secret: str, issuer: str, audience: str, ttl_seconds: int) -> None:
        if len(secret) < 32:
            raise ValueError("the JWT secret must be at least 32 characters")
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds

    def issue(self, *, user_id: UUID, tenant_id: UUID, role: str) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "tenant_id": str(tenant_id),
            "role": role,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ACCESS_ALGORITHMS[0])

    def verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=ACCESS_ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
            return AccessClaims(
                user_id=UUID(claims["sub"]),
                tenant_id=UUID(claims["tenant_id"]),
                role=str(claims["role"]),
                jti=str(claims["jti"]),
                expires_at=int(claims["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(f"The access token is not valid: {exc}.") from exc

    def looks_like_ours(self, token: str) -> bool:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        return unverified.get("iss") == self.issuer


@dataclass(frozen=True, slots=True)
class RefreshSecret:
    """An opaque refresh token `{tenant_id}.{token_id}.{secret}`; only a hash of it is stored.

    The tenant id in clear lets a refresh at a bare host find its tenant; it is not secret.
    """

    tenant_id: UUID
    token_id: UUID
    secret: str

    @classmethod
    def new(cls, tenant_id: UUID) -> RefreshSecret:
        return cls(tenant_id=tenant_id, token_id=uuid4(), secret=secrets.token_urlsafe(32))

    @classmethod
    def parse(cls, token: str) -> RefreshSecret:
        try:
            tenant, token_id, secret = token.split(".")
            return cls(tenant_id=UUID(tenant), token_id=UUID(token_id), secret=secret)
        except ValueError as exc:
            raise InvalidToken("The refresh token is malformed.") from exc

    def __str__(self) -> str:
        return f"{self.tenant_id}.{self.token_id}.{self.secret}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(str(self).encode()).hexdigest()

    def matches(self, stored_digest: str) -> bool:
        return hmac.compare_digest(self.digest, stored_digest)


def constant_time_equals(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True, slots=True)
class EntraIdentity:
    object_id: str  # `oid`: stable per user and directory
    directory_id: str  # `tid`
    email: str | None
    name: str | None


class EntraUnavailable(ServiceUnavailable):
    title = "Identity provider unavailable"


class EntraTokenValidator:
    """Validate Entra ID (Azure AD / B2C) ID or access tokens against the issuer's JWKS.

    `issuer` is the authority the discovery document hangs off (OIDC Discovery:
    `{issuer}/.well-known/openid-configuration`), e.g.
    `https://login.microsoftonline.com/{tenant}/v2.0`. Tokens must carry the `issuer` *inside*
    that document, which is not always the configured URL: Entra names the directory by its
    GUID where the URL has a domain name, B2C adds a trailing slash, and the multi-tenant
    authorities (`organizations`, `common`) publish a `{tenantid}` template, filled in from
    the token's own `tid`.
    """

    def __init__(
        self, *, issuer: str, client_id: str, key_refresh_cooldown_seconds: float = 30
    ) -> None:
        self.authority = issuer.rstrip("/")
        self.client_id = client_id
        # A token with an unknown `kid` refreshes the key set (that is how a rotated key is
        # found), at most once per cooldown, so forged `kid`s cannot make us hammer Entra.
        self._key_refresh_cooldown = key_refresh_cooldown_seconds
        self._issuer_template: str | None = None
        self._jwk_client: jwt.PyJWKClient | None = None
        self._discovery_lock = threading.Lock()

    def _discover(self) -> tuple[str, jwt.PyJWKClient]:
        """The issuer template and a JWKS client, from the discovery document (once)."""
        with self._discovery_lock:
            if self._issuer_template is None or self._jwk_client is None:
                config = _fetch_json(f"{self.authority}/.well-known/openid-configuration")
                try:
                    issuer, jwks_uri = str(config["issuer"]), str(config["jwks_uri"])
                except (KeyError, TypeError) as exc:
                    raise EntraUnavailable(
                        f"Entra ID discovery at {self.authority} names no issuer or key set."
                    ) from exc
                # No `cache_keys`: its per-`kid` cache never expires, so a key Entra withdrew
                # would stay trusted; the key-set cache expires after `lifespan`.
                self._jwk_client = jwt.PyJWKClient(
                    jwks_uri, lifespan=3600, cooldown_duration=self._key_refresh_cooldown
                )
                self._issuer_template = issuer
            return self._issuer_template, self._jwk_client

    def _signing_key(self, jwk_client: jwt.PyJWKClient, token: str) -> Any:
        header = jwt.get_unverified_header(token)
        # Refused before any key lookup: neither can lead to a key set refresh.
        if header.get("alg") not in ENTRA_ALGORITHMS:
            raise jwt.InvalidAlgorithmError(f"the algorithm {header.get('alg')!r} is not allowed")
        if not header.get("kid"):
            raise jwt.InvalidTokenError("the token names no signing key (kid)")
        try:
            return jwk_client.get_signing_key(header["kid"]).key
        except jwt.PyJWKClientConnectionError as exc:
            raise EntraUnavailable(f"Entra ID signing keys could not be fetched: {exc}.") from exc

    def validate(self, token: str) -> EntraIdentity:
        issuer_template, jwk_client = self._discover()
        try:
            key = self._signing_key(jwk_client, token)
            unverified = jwt.decode(token, options={"verify_signature": False})
            issuer = issuer_template.replace("{tenantid}", str(unverified.get("tid", "")))
            claims = jwt.decode(
                token,
                key,
                algorithms=ENTRA_ALGORITHMS,
                audience=self.client_id,
                issuer=issuer,
                leeway=ENTRA_CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "oid", "tid"]},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(f"The Entra ID token is not valid: {exc}.") from exc
        return EntraIdentity(
            object_id=str(claims["oid"]),
            directory_id=str(claims["tid"]),
            email=claims.get("preferred_username") or claims.get("email"),
            name=claims.get("name"),
        )


def _fetch_json(url: str) -> Any:
    """GET a JSON document with urllib, as PyJWKClient fetches the key set: both trust the
    same certificate store."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise EntraUnavailable(f"The Entra ID authority {url} is not an http(s) URL.")
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - scheme checked
            return json.load(response)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise EntraUnavailable(f"Entra ID discovery at {url} failed: {exc}.") from exc
