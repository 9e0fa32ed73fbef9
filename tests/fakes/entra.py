"""A local stand-in for Microsoft Entra ID's v2.0 endpoints, spoken to by the real MSAL and PyJWT.

`async with FakeEntra() as fake:` serves HTTPS on 127.0.0.1 (MSAL refuses an authority that is
not https) with a certificate from a CA of its own: `fake.trust_bundle` is that CA plus certifi's
roots. For each authority `{fake.url}/{tenant}/v2.0`, where `tenant` is the directory id, its
domain name, `organizations` or `common`, it serves what Entra serves there:

- the OIDC discovery document. Its `issuer` names the directory by its GUID, or is the
  `{tenantid}` template for the multi-tenant authorities;
- the JWKS: RSA keys with `kid`, `x5t` and `x5c`, shared by every tenant as Entra's are.
  `rotate_keys()` publishes a new key and signs with it from then on;
- `authorize`: the authorization-code flow with PKCE (S256 only, required). There is no
  login page: the user in `fake.signed_in` consents at once, and with nobody signed in the
  answer is Entra's `login_required`;
- `token`: redeems a code once, for the client it was issued to (with the client secret
  when the app has one) and with the PKCE code verifier. It answers with v2.0 tokens: the ID
  token for the client, an access token for the client's API when a scope of it was asked
  for, or else a Graph token that only Graph can validate.

Errors use Entra's shapes: JSON with an `AADSTS` code from the token and discovery endpoints, a
redirect with `error` and `error_description`, or an error page when the redirect URI itself
is unusable. `fake.mint(...)` signs tokens directly, with any claim changed or removed.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import shutil
import socket
import ssl
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import jwt
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

#: Microsoft Graph's application id: the audience of a token asked for with OIDC scopes only.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
MULTI_TENANT = frozenset({"organizations", "common"})
CODE_LIFETIME_SECONDS = 600
TOKEN_LIFETIME_SECONDS = 3600
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)), unpadded."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class DirectoryUser:
    object_id: str  # `oid`
    username: str  # the UPN: `preferred_username`
    name: str
    email: str | None = None


@dataclass(frozen=True)
class AppRegistration:
    client_id: str
    redirect_uris: tuple[str, ...]
    #: None: a public client, which redeems codes with PKCE alone.
    client_secret: str | None = None

    def accepts_redirect(self, uri: str) -> bool:
        """Exact match; for loopback redirect URIs Entra ignores the port (RFC 8252, 7.3)."""
        if uri in self.redirect_uris:
            return True
        given = urlsplit(uri)
        if given.hostname is None or given.netloc.rsplit(":", 1)[0] not in LOOPBACK_HOSTS:
            return False
        return any(
            (given.scheme, given.hostname, given.path)
            == (registered.scheme, registered.hostname, registered.path)
            for registered in map(urlsplit, self.redirect_uris)
        )


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with the self-signed certificate Entra publishes beside it (`x5c`)."""

    kid: str
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def generate(cls) -> SigningKey:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.accesscontrol.fake")])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(private_key, hashes.SHA256())
        )
        # Entra's v2.0 key ids are the certificate's SHA-1 thumbprint, like `x5t`.
        thumbprint = b64url(certificate.fingerprint(hashes.SHA1()))  # noqa: S303
        return cls(kid=thumbprint, private_key=private_key, certificate=certificate)

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self, issuer: str) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": public["n"],
            "e": public["e"],
            "x5c": [base64.b64encode(der).decode()],
            "issuer": issuer,
        }


@dataclass(frozen=True)
class PendingCode:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str
    user: DirectoryUser
    expires_at: float


@dataclass(frozen=True)
class TlsMaterial:
    """A CA and its server certificate for 127.0.0.1 and localhost, as files for uvicorn."""

    ca_pem: bytes
    cert_file: Path
    key_file: Path
    trust_bundle: Path  # certifi's roots plus the CA

    @classmethod
    def issue(cls, directory: Path) -> TlsMaterial:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _ca_certificate(ca_key)
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _server_certificate(server_key, ca=ca, ca_key=ca_key)
        material = cls(
            ca_pem=ca.public_bytes(serialization.Encoding.PEM),
            cert_file=directory / "server.pem",
            key_file=directory / "server.key",
            trust_bundle=directory / "trust.pem",
        )
        material.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        material.key_file.write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        material.trust_bundle.write_bytes(
            Path(certifi.where()).read_bytes() + b"\n" + material.ca_pem
        )
        return material


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake Entra test CA")])
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    key: ec.EllipticCurvePrivateKey, *, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


class FakeEntra:
    """The fake identity provider; one directory (`directory_id`, `domain`), any app."""

    def __init__(self, *, domain: str = "khipu-test.onmicrosoft.com") -> None:
        self.directory_id = str(uuid.uuid4())
        self.domain = domain
        self.apps: dict[str, AppRegistration] = {}
        #: The user whose browser session the authorize endpoint sees.
        self.signed_in: DirectoryUser | None = None
        self.signing_key = SigningKey.generate()
        self.published_keys: list[SigningKey] = [self.signing_key]
        self.jwks_fetches = 0
        #: The form of every token request, as sent.
        self.token_requests: list[dict[str, str]] = []
        self._codes: dict[str, PendingCode] = {}
        self._redeemed: set[str] = set()
        self._tls: TlsMaterial | None = None
        self._tls_directory: Path | None = None
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._serving: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FakeEntra:
        self._tls_directory = Path(tempfile.mkdtemp(prefix="khipu-fake-entra-"))
        self._tls = TlsMaterial.issue(self._tls_directory)
        app = Starlette(
            routes=[
                Route("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery),
                Route("/{tenant}/discovery/v2.0/keys", self._keys),
                Route("/{tenant}/oauth2/v2.0/authorize", self._authorize),
                Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
            ]
        )
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ssl_certfile=str(self._tls.cert_file),
            ssl_keyfile=str(self._tls.key_file),
        )
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        # uvicorn exposes a `started` flag, not an event to wait on.
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._socket is not None and self._serving
        self._server.should_exit = True
        # Idle keep-alive connections (MSAL's pool) are cut rather than closed: a TLS close
        # would wait 30 s for a close_notify their clients never send.
        self._server.force_exit = True
        await self._serving
        for connection in list(self._server.server_state.connections):
            connection.transport.abort()
        self._socket.close()
        if self._tls_directory is not None:
            shutil.rmtree(self._tls_directory, ignore_errors=True)

    # What tests configure and read.

    @property
    def url(self) -> str:
        assert self._socket is not None, "the fake is not running"
        host, port = self._socket.getsockname()[:2]
        return f"https://{host}:{port}"

    @property
    def authority(self) -> str:
        """The single-tenant authority, as `https://login.microsoftonline.com/{tenant}/v2.0`."""
        return f"{self.url}/{self.directory_id}/v2.0"

    def authority_for(self, tenant: str) -> str:
        """The authority named by a domain, `organizations` or `common`."""
        return f"{self.url}/{tenant}/v2.0"

    def issuer_for(self, directory_id: str) -> str:
        return f"{self.url}/{directory_id}/v2.0"

    @property
    def trust_bundle(self) -> Path:
        """certifi's roots plus the fake's CA, for `SSL_CERT_FILE` / `REQUESTS_CA_BUNDLE`."""
        assert self._tls is not None, "the fake is not running"
        return self._tls.trust_bundle

    def ssl_context(self) -> ssl.SSLContext:
        assert self._tls is not None, "the fake is not running"
        return ssl.create_default_context(cadata=self._tls.ca_pem.decode())

    def register_app(
        self, client_id: str, *, redirect_uris: list[str], client_secret: str | None = None
    ) -> AppRegistration:
        app = AppRegistration(client_id, tuple(redirect_uris), client_secret)
        self.apps[client_id] = app
        return app

    def add_user(self, username: str, *, name: str = "Test User") -> DirectoryUser:
        """A new user of the directory (its UPN doubles as its email)."""
        return DirectoryUser(
            object_id=str(uuid.uuid4()), username=username, name=name, email=username
        )

    def rotate_keys(self, *, retire_previous: bool = False) -> SigningKey:
        """Publish a new signing key and sign with it from now on."""
        new = SigningKey.generate()
        self.published_keys = [new] if retire_previous else [*self.published_keys, new]
        self.signing_key = new
        return new

    def mint(
        self,
        user: DirectoryUser,
        *,
        audience: str,
        directory_id: str | None = None,
        key: SigningKey | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A v2.0 ID token of `user` for `audience`, signed with the current key (or `key`).
        `claims` replace Entra's; a claim given as None is left out."""
        payload = {
            **self._common_claims(user, audience, directory_id or self.directory_id),
            **claims,
        }
        return self._sign(
            {name: value for name, value in payload.items() if value is not None},
            key or self.signing_key,
            headers,
        )

    # Token contents.

    def _common_claims(self, user: DirectoryUser, audience: str, directory_id: str) -> dict:
        now = int(time.time())
        return {
            "aud": audience,
            "iss": self.issuer_for(directory_id),
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "name": user.name,
            "oid": user.object_id,
            "preferred_username": user.username,
            "rh": "0.fake-refresh-hint.",
            # `sub` is pairwise: the same user has a different one in every app.
            "sub": b64url(hashlib.sha256(f"{user.object_id}:{audience}".encode()).digest()),
            "tid": directory_id,
            "uti": b64url(secrets.token_bytes(16)),
            "ver": "2.0",
        }

    def _access_token(self, pending: PendingCode, app: AppRegistration) -> str:
        api_scopes = [
            scope.rsplit("/", 1)[1]
            for scope in pending.scopes
            if scope.startswith((f"api://{app.client_id}/", f"{app.client_id}/"))
        ]
        if api_scopes:
            claims = {
                **self._common_claims(pending.user, app.client_id, self.directory_id),
                "azp": app.client_id,
                "azpacr": "1" if app.client_secret else "0",
                "scp": " ".join(api_scopes),
            }
        else:
            # A v1.0 Graph token: only Graph can validate it (its header carries a nonce).
            claims = {
                **self._common_claims(pending.user, GRAPH_APP_ID, self.directory_id),
                "iss": f"https://sts.windows.net/{self.directory_id}/",
                "appid": app.client_id,
                "scp": "openid profile email User.Read",
                "ver": "1.0",
            }
        return self._sign(claims, self.signing_key, {"nonce": secrets.token_urlsafe(32)})

    def _sign(self, claims: dict, key: SigningKey, headers: dict[str, Any] | None) -> str:
        return jwt.encode(
            claims,
            key.private_key,
            algorithm="RS256",
            headers={"typ": "JWT", "kid": key.kid, **(headers or {})},
        )

    # Endpoints.

    def _known_tenant(self, segment: str) -> bool:
        return segment in (self.directory_id, self.domain) or segment in MULTI_TENANT

    def _tenant_in_urls(self, segment: str) -> str:
        # A domain-named authority's endpoints name the directory by its GUID, as Entra's do.
        return self.directory_id if segment == self.domain else segment

    async def _discovery(self, request: Request) -> Response:
        segment = request.path_params["tenant"]
        if not self._known_tenant(segment):
            return _token_error(400, "invalid_tenant", 90002, f"Tenant '{segment}' not found.")
        base = f"{self.url}/{self._tenant_in_urls(segment)}"
        issuer_tenant = "{tenantid}" if segment in MULTI_TENANT else self.directory_id
        return JSONResponse(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{self.url}/{issuer_tenant}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "acr",
                    "nonce",
                    "preferred_username",
                    "name",
                    "tid",
                    "ver",
                    "at_hash",
                    "c_hash",
                    "email",
                ],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        )

    async def _keys(self, request: Request) -> Response:
        segment = request.path_params["tenant"]
        if not self._known_tenant(segment):
            return _token_error(400, "invalid_tenant", 90002, f"Tenant '{segment}' not found.")
        self.jwks_fetches += 1
        issuer_tenant = "{tenantid}" if segment in MULTI_TENANT else self.directory_id
        issuer = f"{self.url}/{issuer_tenant}/v2.0"
        return JSONResponse({"keys": [key.jwk(issuer) for key in self.published_keys]})

    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        segment = request.path_params["tenant"]
        if not self._known_tenant(segment):
            return _error_page(90002, f"Tenant '{segment}' not found.")
        client_id = params.get("client_id", "")
        app = self.apps.get(client_id)
        if app is None:
            return _error_page(
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.domain}'.",
            )
        redirect_uri = params.get("redirect_uri") or app.redirect_uris[0]
        if not app.accepts_redirect(redirect_uri):
            return _error_page(
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                f"redirect URIs configured for the application '{client_id}'.",
            )
        state = params.get("state")

        def refuse(error: str, code: int, description: str) -> Response:
            return _redirect(
                redirect_uri,
                error=error,
                error_description=_aadsts(code, description),
                error_uri=f"https://login.microsoftonline.com/error?code={code}",
                state=state,
            )

        if params.get("response_type") != "code":
            return refuse(
                "unsupported_response_type",
                700054,
                f"response_type '{params.get('response_type')}' is not enabled for the "
                "application.",
            )
        if params.get("response_mode", "query") != "query":
            return refuse("invalid_request", 9002313, "Only response_mode=query is served here.")
        if not params.get("code_challenge") or params.get("code_challenge_method") != "S256":
            return refuse(
                "invalid_request", 9002313, "A PKCE code_challenge with method S256 is required."
            )
        if self.signed_in is None:
            return refuse(
                "login_required",
                50058,
                "A silent sign-in request was sent but no user is signed in.",
            )
        code = secrets.token_urlsafe(48)
        self._codes[code] = PendingCode(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=tuple(params.get("scope", "").split()),
            nonce=params.get("nonce"),
            code_challenge=params["code_challenge"],
            user=self.signed_in,
            expires_at=time.time() + CODE_LIFETIME_SECONDS,
        )
        answer = {"code": code}
        if params.get("client_info") == "1":
            answer["client_info"] = self._client_info(self.signed_in)
        return _redirect(redirect_uri, **answer, state=state, session_state=str(uuid.uuid4()))

    async def _token(self, request: Request) -> Response:
        form = {name: str(value) for name, value in (await request.form()).items()}
        self.token_requests.append(form)
        client_id, secret = _client_credentials(request, form)
        app = self.apps.get(client_id or "")
        if app is None:
            return _token_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.domain}'.",
            )
        if refusal := _authenticate_client(app, secret):
            return refusal
        grant_type = form.get("grant_type")
        if not grant_type:
            return _token_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        if grant_type != "authorization_code":
            return _token_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type"
            )
        return self._redeem_code(app, form)

    def _redeem_code(self, app: AppRegistration, form: dict[str, str]) -> Response:
        code = form.get("code", "")
        pending = self._codes.pop(code, None)
        if pending is None:
            if code in self._redeemed:
                return _token_error(
                    400,
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new "
                    "valid code or use an existing refresh token.",
                )
            return _token_error(
                400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            )
        self._redeemed.add(code)
        if pending.expires_at < time.time():
            return _token_error(
                400, "invalid_grant", 70008, "The provided authorization code has expired."
            )
        if pending.client_id != app.client_id or form.get("redirect_uri") != pending.redirect_uri:
            return _token_error(
                400,
                "invalid_grant",
                500112,
                "The reply address does not match the reply address provided when requesting "
                "Authorization code.",
            )
        verifier = form.get("code_verifier", "")
        if not verifier or pkce_challenge(verifier) != pending.code_challenge:
            return _token_error(
                400,
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the "
                "authorization request.",
            )
        return self._token_response(pending, app, client_info=form.get("client_info") == "1")

    def _token_response(
        self, pending: PendingCode, app: AppRegistration, *, client_info: bool
    ) -> Response:
        granted = [scope for scope in pending.scopes if scope != "offline_access"]
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(granted),
            "expires_in": TOKEN_LIFETIME_SECONDS - 1,
            "ext_expires_in": TOKEN_LIFETIME_SECONDS - 1,
            "access_token": self._access_token(pending, app),
        }
        if "offline_access" in pending.scopes:
            body["refresh_token"] = "0.fake." + secrets.token_urlsafe(64)
        if "openid" in pending.scopes:
            claims: dict[str, Any] = {}
            if pending.nonce:
                claims["nonce"] = pending.nonce
            if "email" in pending.scopes and pending.user.email:
                claims["email"] = pending.user.email
            body["id_token"] = self.mint(pending.user, audience=app.client_id, **claims)
        if client_info:
            body["client_info"] = self._client_info(pending.user)
        return JSONResponse(body, headers={"cache-control": "no-store", "pragma": "no-cache"})

    def _client_info(self, user: DirectoryUser) -> str:
        """What MSAL uses to name the account: the user's oid and directory, base64url JSON."""
        return b64url(json.dumps({"uid": user.object_id, "utid": self.directory_id}).encode())


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """`client_secret_basic` (Authorization header) or `client_secret_post` (the form)."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("basic "):
        decoded = base64.b64decode(authorization[6:]).decode()
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


def _authenticate_client(app: AppRegistration, secret: str | None) -> Response | None:
    if app.client_secret is None:
        if secret:
            return _token_error(
                401,
                "invalid_client",
                700025,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be "
                "presented.",
            )
        return None
    if not secret:
        return _token_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )
    if not secrets.compare_digest(secret, app.client_secret):
        return _token_error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            "client secret value, not the client secret ID.",
        )
    return None


def _aadsts(code: int, message: str) -> str:
    trace_id, correlation_id = uuid.uuid4(), uuid.uuid4()
    return (
        f"AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation_id} "
        f"Timestamp: {_timestamp()}"
    )


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _token_error(status: int, error: str, code: int, message: str) -> Response:
    """Entra's JSON error body, as its token and discovery endpoints send it."""
    return JSONResponse(
        {
            "error": error,
            "error_description": _aadsts(code, message),
            "error_codes": [code],
            "timestamp": _timestamp(),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
        status_code=status,
    )


def _error_page(code: int, message: str) -> Response:
    """Entra shows an error page, never a redirect, when the client or redirect URI is wrong."""
    return HTMLResponse(
        f"<!DOCTYPE html><title>Sign in to your account</title><p>{_aadsts(code, message)}</p>",
        status_code=400,
    )


def _redirect(redirect_uri: str, **params: str | None) -> Response:
    query = urlencode({name: value for name, value in params.items() if value is not None})
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)
