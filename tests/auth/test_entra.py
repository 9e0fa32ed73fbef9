"""Microsoft Entra ID sign-in: Entra tokens as bearer tokens, and the server-side MSAL code flow,
against a local Entra (tests/fakes/entra.py) that the real MSAL and PyJWT talk to over HTTPS."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import jwt
import pytest
from pydantic import SecretStr

from khipu.app import create_app
from khipu.core.security import EntraTokenValidator, EntraUnavailable, InvalidToken
from tests.fakes.entra import GRAPH_APP_ID, DirectoryUser, FakeEntra, SigningKey, pkce_challenge
from tests.support import TenantHandle, problem

# MSAL recommends form_post; the API asks for a query on purpose (see khipu/auth/entra.py).
pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _segments(token: str) -> tuple[dict[str, Any], str]:
    header, payload, _ = token.split(".")
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))), payload


def unsigned(token: str) -> str:
    """The same claims and key id under `alg: none`, with no signature."""
    header, payload = _segments(token)
    forged = _b64(json.dumps({**header, "alg": "none"}).encode())
    return f"{forged}.{payload}."


def hs256_with_public_key(token: str, public_pem: bytes) -> str:
    """The classic key confusion: HMAC-signed with the RSA public key as the secret."""
    header, payload = _segments(token)
    signing_input = f"{_b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{payload}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def me(client: httpx.AsyncClient, tenant: TenantHandle, token: str) -> httpx.Response:
    return await client.get(
        "/api/v1/auth/me",
        headers={"X-Tenant-ID": tenant.subdomain, "Authorization": f"Bearer {token}"},
    )


async def trust(tenant: TenantHandle, directory_id: str) -> None:
    response = await tenant.patch("/api/v1/tenant", json={"entra_directory_id": directory_id})
    assert response.status_code == 200, response.text


@pytest.fixture
def client_id(settings) -> str:
    return settings.entra_client_id


@pytest.fixture
async def entra_tenant(tenant: TenantHandle, entra_service: FakeEntra) -> TenantHandle:
    """A tenant whose admin trusts the local Entra's directory."""
    await trust(tenant, entra_service.directory_id)
    return tenant


async def validate(validator: EntraTokenValidator, token: str):
    # Blocking HTTP to the fake, which serves from this event loop: off the loop, as the API does.
    return await asyncio.to_thread(validator.validate, token)


# Entra tokens as bearer tokens.


async def test_first_entra_sign_in_links_the_account_with_the_same_email(
    entra_tenant, entra_service, client, client_id
):
    creator = await entra_tenant.add_user("creator")
    person = entra_service.add_user(creator.email.upper())
    response = await me(client, entra_tenant, entra_service.mint(person, audience=client_id))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == creator.id and response.json()["role"] == "creator"


async def test_a_linked_account_is_found_by_oid_even_after_its_email_changes(
    entra_tenant, entra_service, client, client_id
):
    creator = await entra_tenant.add_user("creator")
    person = entra_service.add_user(creator.email)
    first = await me(client, entra_tenant, entra_service.mint(person, audience=client_id))
    assert first.json()["id"] == creator.id
    renamed = entra_service.mint(
        person, audience=client_id, preferred_username=f"renamed-{uuid.uuid4().hex[:6]}@x.example"
    )
    response = await me(client, entra_tenant, renamed)
    assert response.status_code == 200 and response.json()["id"] == creator.id


async def test_another_entra_user_with_a_linked_accounts_email_is_forbidden(
    entra_tenant, entra_service, client, client_id
):
    creator = await entra_tenant.add_user("creator")
    owner = entra_service.add_user(creator.email)
    assert (
        await me(client, entra_tenant, entra_service.mint(owner, audience=client_id))
    ).status_code == 200
    impostor = entra_service.add_user(creator.email)
    problem(await me(client, entra_tenant, entra_service.mint(impostor, audience=client_id)), 403)


async def test_an_entra_user_without_an_account_in_the_tenant_is_forbidden(
    entra_tenant, entra_service, client, client_id
):
    stranger = entra_service.add_user(f"stranger-{uuid.uuid4().hex[:6]}@x.example")
    body = problem(
        await me(client, entra_tenant, entra_service.mint(stranger, audience=client_id)), 403
    )
    assert "no account" in body["detail"].lower()


@pytest.mark.parametrize("trusted", ["another directory", "no directory"])
async def test_a_directory_the_tenant_does_not_trust_is_forbidden(
    tenant, entra_service, client, client_id, trusted
):
    if trusted == "another directory":
        await trust(tenant, str(uuid.uuid4()))
    person = entra_service.add_user(tenant.admin.email)
    body = problem(await me(client, tenant, entra_service.mint(person, audience=client_id)), 403)
    assert "directory" in body["detail"]


async def test_the_trusted_directory_id_is_compared_case_insensitively(
    tenant, entra_service, client, client_id
):
    await trust(tenant, entra_service.directory_id.upper())
    person = entra_service.add_user(tenant.admin.email)
    response = await me(client, tenant, entra_service.mint(person, audience=client_id))
    assert response.status_code == 200, response.text


async def test_a_deactivated_users_entra_token_is_unauthorized_like_their_own_tokens(
    entra_tenant, entra_service, client, client_id
):
    creator = await entra_tenant.add_user("creator")
    token = entra_service.mint(entra_service.add_user(creator.email), audience=client_id)
    assert (await me(client, entra_tenant, token)).status_code == 200
    deactivated = await entra_tenant.patch(f"/api/v1/users/{creator.id}", json={"is_active": False})
    assert deactivated.status_code == 200
    problem(await me(client, entra_tenant, token), 401)
    problem(await entra_tenant.get("/api/v1/auth/me", as_user=creator), 401)


def tamper(token: str, **claims: Any) -> str:
    """Change claims and keep the original signature."""
    header, _, signature = token.split(".")
    changed = {**jwt.decode(token, options={"verify_signature": False}), **claims}
    return f"{header}.{_b64(json.dumps(changed).encode())}.{signature}"


def _hours_ago(fake: FakeEntra, person: DirectoryUser, audience: str) -> str:
    now = int(time.time())
    return fake.mint(person, audience=audience, iat=now - 7200, nbf=now - 7200, exp=now - 600)


TokenMaker = Callable[[FakeEntra, DirectoryUser, str], str]
INVALID_TOKENS: dict[str, TokenMaker] = {
    "wrong-audience": lambda fake, person, aud: fake.mint(person, audience=str(uuid.uuid4())),
    "graph-access-token": lambda fake, person, aud: fake.mint(person, audience=GRAPH_APP_ID),
    "wrong-issuer": lambda fake, person, aud: fake.mint(
        person, audience=aud, iss="https://login.evil.example/common/v2.0"
    ),
    "another-directorys-issuer": lambda fake, person, aud: fake.mint(
        person, audience=aud, directory_id=str(uuid.uuid4())
    ),
    "v1-issuer": lambda fake, person, aud: fake.mint(
        person, audience=aud, iss=f"https://sts.windows.net/{fake.directory_id}/"
    ),
    "expired": _hours_ago,
    "not-yet-valid": lambda fake, person, aud: fake.mint(
        person, audience=aud, nbf=int(time.time()) + 600
    ),
    "missing-oid": lambda fake, person, aud: fake.mint(person, audience=aud, oid=None),
    "missing-tid": lambda fake, person, aud: fake.mint(person, audience=aud, tid=None),
    "unknown-key": lambda fake, person, aud: fake.mint(
        person, audience=aud, key=SigningKey.generate()
    ),
    "known-kid-wrong-key": lambda fake, person, aud: fake.mint(
        person, audience=aud, key=SigningKey.generate(), headers={"kid": fake.signing_key.kid}
    ),
    "alg-none": lambda fake, person, aud: unsigned(fake.mint(person, audience=aud)),
    "hs256-with-the-public-key": lambda fake, person, aud: hs256_with_public_key(
        fake.mint(person, audience=aud), fake.signing_key.public_pem
    ),
    "tampered-oid": lambda fake, person, aud: tamper(
        fake.mint(person, audience=aud), oid=str(uuid.uuid4())
    ),
    "garbage": lambda fake, person, aud: "not.a.jwt",
}


@pytest.mark.parametrize("kind", INVALID_TOKENS)
async def test_invalid_entra_tokens_are_unauthorized(
    entra_tenant, entra_service, client, client_id, kind
):
    person = entra_service.add_user(entra_tenant.admin.email)
    # The same person's well-formed token is accepted: only the defect is refused.
    good = entra_service.mint(person, audience=client_id)
    assert (await me(client, entra_tenant, good)).status_code == 200
    token = INVALID_TOKENS[kind](entra_service, person, client_id)
    body = problem(await me(client, entra_tenant, token), 401)
    assert "token" in body["detail"].lower()


# The validator on its own: discovery, issuers, key rotation.


@pytest.fixture
def rotating_entra(entra_service: FakeEntra):
    """The session's Entra, signing with its current key again after the test: the API's own
    validator (30 s refresh cooldown) must not meet a key it has not fetched yet."""
    key = entra_service.signing_key
    yield entra_service
    entra_service.signing_key = key


async def test_a_rotated_signing_key_is_accepted_once_the_key_set_is_refreshed(
    rotating_entra, client_id
):
    entra_service = rotating_entra
    validator = EntraTokenValidator(
        issuer=entra_service.authority, client_id=client_id, key_refresh_cooldown_seconds=0
    )
    person = entra_service.add_user("rotation@x.example")
    old = entra_service.signing_key
    first = await validate(validator, entra_service.mint(person, audience=client_id))
    assert first.object_id == person.object_id
    fetches = entra_service.jwks_fetches
    new = entra_service.rotate_keys()
    identity = await validate(validator, entra_service.mint(person, audience=client_id))
    assert identity.object_id == person.object_id
    assert entra_service.jwks_fetches == fetches + 1 and new.kid != old.kid
    # Both keys are still published, so tokens of the previous key stay valid meanwhile.
    previous = await validate(validator, entra_service.mint(person, audience=client_id, key=old))
    assert previous.object_id == person.object_id


async def test_unknown_key_ids_refresh_the_key_set_at_most_once_per_cooldown(
    entra_service, client_id
):
    validator = EntraTokenValidator(
        issuer=entra_service.authority, client_id=client_id, key_refresh_cooldown_seconds=60
    )
    person = entra_service.add_user("cooldown@x.example")
    first = await validate(validator, entra_service.mint(person, audience=client_id))
    assert first.object_id == person.object_id
    fetches = entra_service.jwks_fetches
    for _ in range(5):
        forged = entra_service.mint(
            person, audience=client_id, key=SigningKey.generate(), headers={"kid": uuid.uuid4().hex}
        )
        with pytest.raises(InvalidToken):
            await validate(validator, forged)
    assert entra_service.jwks_fetches == fetches


async def test_a_domain_named_authority_expects_the_issuer_its_discovery_document_names(
    entra_service, client_id
):
    validator = EntraTokenValidator(
        issuer=entra_service.authority_for(entra_service.domain), client_id=client_id
    )
    person = entra_service.add_user("domain@x.example")
    identity = await validate(validator, entra_service.mint(person, audience=client_id))
    assert identity.directory_id == entra_service.directory_id
    assert identity.email == "domain@x.example" and identity.name == person.name


async def test_a_multi_tenant_authority_accepts_each_directory_with_its_own_issuer_only(
    entra_service, client_id
):
    validator = EntraTokenValidator(
        issuer=entra_service.authority_for("organizations"), client_id=client_id
    )
    person = entra_service.add_user("guest@x.example")
    elsewhere = str(uuid.uuid4())
    identity = await validate(
        validator, entra_service.mint(person, audience=client_id, directory_id=elsewhere)
    )
    assert identity.directory_id == elsewhere
    mismatched = entra_service.mint(
        person, audience=client_id, directory_id=elsewhere, iss=entra_service.authority
    )
    with pytest.raises(InvalidToken, match="issuer"):
        await validate(validator, mismatched)


async def test_an_unknown_authority_is_reported_as_unavailable_not_as_a_bad_token(
    entra_service, client_id
):
    validator = EntraTokenValidator(
        issuer=entra_service.authority_for("no-such-tenant.example"), client_id=client_id
    )
    person = entra_service.add_user("unavailable@x.example")
    with pytest.raises(EntraUnavailable):
        await validate(validator, entra_service.mint(person, audience=client_id))


# The browser sign-in: MSAL's authorization-code flow with PKCE.


@dataclasses.dataclass(frozen=True)
class BrowserSignIn:
    start: httpx.Response
    authorize_url: str
    callback_url: str


async def sign_in_in_browser(
    browser: httpx.AsyncClient, tenant: TenantHandle, entra: FakeEntra
) -> BrowserSignIn:
    """Start at the API, then let the local Entra answer the authorization request. `browser`
    keeps the API's cookies, as a browser would."""
    start = await browser.get("/api/v1/auth/entra/start", headers={"X-Tenant-ID": tenant.subdomain})
    assert start.status_code == 302, start.text
    authorize_url = start.headers["location"]
    async with httpx.AsyncClient(verify=entra.ssl_context()) as at_entra:
        answer = await at_entra.get(authorize_url)
    assert answer.status_code == 302, answer.text
    return BrowserSignIn(start, authorize_url, answer.headers["location"])


def with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query["state"] = state
    return urlunsplit(parts._replace(query=str(httpx.QueryParams(query))))


@pytest.fixture
async def browser(base_url):
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        yield http


async def test_the_msal_code_flow_signs_an_entra_user_in_with_our_token_pair(
    entra_tenant, entra_service, browser, client, client_id, base_url
):
    validator = await entra_tenant.add_user("validator")
    entra_service.signed_in = entra_service.add_user(validator.email)
    flow = await sign_in_in_browser(browser, entra_tenant, entra_service)

    request = parse_qs(urlsplit(flow.authorize_url).query)
    assert flow.authorize_url.startswith(f"{entra_service.authority.removesuffix('/v2.0')}/oauth2/")
    assert request["client_id"] == [client_id] and request["response_type"] == ["code"]
    assert request["code_challenge_method"] == ["S256"] and request["nonce"]
    assert set(request["scope"][0].split()) == {"openid", "profile"}
    assert flow.callback_url.startswith(f"{base_url}/api/v1/auth/entra/callback?code=")
    cookie = flow.start.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/api/v1/auth/entra" in cookie

    response = await browser.get(flow.callback_url)
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 15 * 60
    signed_in = await me(client, entra_tenant, pair["access_token"])
    assert signed_in.json()["id"] == validator.id and signed_in.json()["role"] == "validator"
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text

    # A confidential client: the code was redeemed with the secret and the PKCE verifier.
    redemption = entra_service.token_requests[-1]
    assert redemption["client_secret"] == "entra-client-secret-for-tests"
    assert pkce_challenge(redemption["code_verifier"]) == request["code_challenge"][0]


async def test_a_tampered_state_is_refused_and_does_not_spoil_the_real_sign_in(
    entra_tenant, entra_service, browser
):
    entra_service.signed_in = entra_service.add_user(entra_tenant.admin.email)
    flow = await sign_in_in_browser(browser, entra_tenant, entra_service)
    state = parse_qs(urlsplit(flow.callback_url).query)["state"][0]
    tampered = with_state(flow.callback_url, ("x" if state[0] != "x" else "y") + state[1:])
    problem(await browser.get(tampered), 400)
    assert (await browser.get(flow.callback_url)).status_code == 200


async def test_a_callback_finishes_its_sign_in_only_once(entra_tenant, entra_service, browser):
    entra_service.signed_in = entra_service.add_user(entra_tenant.admin.email)
    flow = await sign_in_in_browser(browser, entra_tenant, entra_service)
    assert (await browser.get(flow.callback_url)).status_code == 200
    problem(await browser.get(flow.callback_url), 400)


async def test_a_callback_in_a_browser_that_did_not_start_the_sign_in_is_refused(
    entra_tenant, entra_service, browser, client
):
    entra_service.signed_in = entra_service.add_user(entra_tenant.admin.email)
    flow = await sign_in_in_browser(browser, entra_tenant, entra_service)
    body = problem(await client.get(flow.callback_url), 400)
    assert "another browser" in body["detail"]
    assert (await browser.get(flow.callback_url)).status_code == 200


async def test_a_sign_in_entra_refuses_is_unauthorized(entra_tenant, entra_service, browser):
    entra_service.signed_in = None
    flow = await sign_in_in_browser(browser, entra_tenant, entra_service)
    assert "error=login_required" in flow.callback_url
    body = problem(await browser.get(flow.callback_url), 401)
    assert "AADSTS50058" in body["detail"]


async def test_the_code_flow_of_a_user_without_an_account_is_forbidden(
    entra_tenant, entra_service, browser
):
    entra_service.signed_in = entra_service.add_user(f"nobody-{uuid.uuid4().hex[:6]}@x.example")
    flow = await sign_in_in_browser(browser, entra_tenant, entra_service)
    problem(await browser.get(flow.callback_url), 403)


async def test_entra_sign_in_is_refused_to_a_tenant_that_trusts_no_directory(tenant, browser):
    response = await browser.get(
        "/api/v1/auth/entra/start", headers={"X-Tenant-ID": tenant.subdomain}
    )
    problem(response, 403)


@contextlib.asynccontextmanager
async def api_registered_as(
    entra: FakeEntra, settings, runtime, *, authority: str, client_secret: str | None
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the API with its own app registration at the local Entra (the session's
    runtime, another Entra configuration), served in-process at http://127.0.0.1."""
    client_id = str(uuid.uuid4())
    entra.register_app(
        client_id,
        redirect_uris=["http://127.0.0.1/api/v1/auth/entra/callback"],
        client_secret=client_secret,
    )
    changed = settings.model_copy(
        update={
            "entra_authority": authority,
            "entra_client_id": client_id,
            "entra_client_secret": SecretStr(client_secret or ""),
        }
    )
    app = create_app(
        changed,
        runtime=dataclasses.replace(
            runtime,
            settings=changed,
            entra=EntraTokenValidator(issuer=authority, client_id=client_id),
            services={},
        ),
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as browser,
    ):
        yield browser


async def sign_in_and_ask_who_i_am(
    browser: httpx.AsyncClient, tenant: TenantHandle, entra: FakeEntra
) -> dict[str, Any]:
    flow = await sign_in_in_browser(browser, tenant, entra)
    response = await browser.get(flow.callback_url)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    signed_in = await browser.get(
        "/api/v1/auth/me",
        headers={"X-Tenant-ID": tenant.subdomain, "Authorization": f"Bearer {token}"},
    )
    assert signed_in.status_code == 200, signed_in.text
    return signed_in.json()


async def test_without_a_client_secret_the_sign_in_is_a_public_client_with_pkce_alone(
    entra_tenant, entra_service, settings, runtime
):
    entra_service.signed_in = entra_service.add_user(entra_tenant.admin.email)
    async with api_registered_as(
        entra_service, settings, runtime, authority=entra_service.authority, client_secret=None
    ) as browser:
        signed_in = await sign_in_and_ask_who_i_am(browser, entra_tenant, entra_service)
    assert signed_in["id"] == entra_tenant.admin.id
    redemption = entra_service.token_requests[-1]
    assert "client_secret" not in redemption and redemption["code_verifier"]


async def test_a_multi_tenant_app_signs_in_users_of_the_directory_the_tenant_trusts(
    entra_tenant, entra_service, settings, runtime
):
    entra_service.signed_in = entra_service.add_user(entra_tenant.admin.email)
    async with api_registered_as(
        entra_service,
        settings,
        runtime,
        authority=entra_service.authority_for("organizations"),
        client_secret="multi-tenant-secret",
    ) as browser:
        signed_in = await sign_in_and_ask_who_i_am(browser, entra_tenant, entra_service)
        assert signed_in["id"] == entra_tenant.admin.id
        await trust(entra_tenant, str(uuid.uuid4()))
        flow = await sign_in_in_browser(browser, entra_tenant, entra_service)
        problem(await browser.get(flow.callback_url), 403)


# Against the real Entra ID, when a test app registration is configured.

LIVE = ("KHIPU_TEST_ENTRA_TENANT", "KHIPU_TEST_ENTRA_CLIENT_ID", "KHIPU_TEST_ENTRA_CLIENT_SECRET")


@pytest.mark.live
@pytest.mark.skipif(not all(os.environ.get(name) for name in LIVE), reason=f"set {', '.join(LIVE)}")
def test_a_real_entra_token_passes_the_validator_and_a_tampered_one_does_not():
    """A client-credentials token of the test app for its own API. The app registration must
    expose an Application ID URI and issue v2.0 access tokens
    (`"requestedAccessTokenVersion": 2` in its manifest), or its tokens carry a v1.0 issuer."""
    import msal

    tenant, client_id, secret = (os.environ[name] for name in LIVE)
    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=f"https://login.microsoftonline.com/{tenant}",
    )
    result = app.acquire_token_for_client(scopes=[f"api://{client_id}/.default"])
    assert "access_token" in result, result.get("error_description")
    token = result["access_token"]
    validator = EntraTokenValidator(
        issuer=f"https://login.microsoftonline.com/{tenant}/v2.0", client_id=client_id
    )
    identity = validator.validate(token)
    assert identity.directory_id == jwt.decode(token, options={"verify_signature": False})["tid"]
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(InvalidToken):
        validator.validate(f"{header}.{payload}.{flipped}")
