"""Server-side Entra ID sign-in for the browser studio: MSAL's authorization-code flow with PKCE.

`begin_sign_in` keeps MSAL's flow in Redis under its `state` for ten minutes, bound to the
browser that started it by a cookie; `take_pending_sign_in` hands it out once, and
`finish_sign_in` redeems the code, validates the ID token with the API's own validator and
answers with our token pair, as a password login does.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import warnings
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import msal

from khipu.auth import service as auth
from khipu.auth.schemas import TokenPair
from khipu.core.errors import Forbidden, KhipuError, NotAuthenticated, NotFound
from khipu.core.runtime import Runtime
from khipu.core.security import EntraUnavailable
from khipu.core.tenancy import TenantRef

FLOW_TTL_SECONDS = 600
FLOW_COOKIE = "khipu_entra_sign_in"
FLOW_COOKIE_PATH = "/api/v1/auth/entra"
_FLOW_KEY = "khipu:entra-flow:{state}"
_MSAL_SERVICE = "entra_msal"
_msal_lock = threading.Lock()

# Entra answers with a query on a GET, not with a cross-site form_post: only a top-level GET
# carries the SameSite=Lax cookie that binds the flow to its browser.
warnings.filterwarnings(
    "ignore", message="response_mode='form_post' is recommended", category=UserWarning
)


class EntraSignInNotConfigured(NotFound):
    title = "Entra ID sign-in is not configured"


class EntraSignInNotAccepted(Forbidden):
    title = "Entra ID sign-in not enabled"


class SignInStateUnknown(KhipuError):
    status = 400
    title = "Unknown sign-in"


class EntraSignInFailed(NotAuthenticated):
    title = "Entra ID sign-in failed"


@dataclass(frozen=True, slots=True)
class SignInStart:
    authorization_url: str
    #: The cookie value that proves, at the callback, that this browser started the flow.
    browser_binding: str


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    tenant_id: UUID
    flow: dict[str, Any]


def redirect_uri(runtime: Runtime, callback_url: str) -> str:
    """The configured redirect URI, else this API's own callback as the request reached it."""
    return runtime.settings.entra_redirect_uri or callback_url


async def begin_sign_in(runtime: Runtime, tenant: TenantRef, *, redirect_uri: str) -> SignInStart:
    if runtime.entra is None:
        raise EntraSignInNotConfigured("This server has no Entra ID application configured.")
    if not tenant.settings.get("entra_directory_id"):
        raise EntraSignInNotAccepted("This tenant does not accept Entra ID sign-ins.")
    flow = await asyncio.to_thread(_initiate_flow, runtime, redirect_uri)
    binding = secrets.token_urlsafe(32)
    record = {"tenant_id": str(tenant.id), "binding": _digest(binding), "flow": flow}
    await runtime.redis.set(
        _FLOW_KEY.format(state=flow["state"]), json.dumps(record), ex=FLOW_TTL_SECONDS
    )
    return SignInStart(authorization_url=flow["auth_uri"], browser_binding=binding)


async def take_pending_sign_in(
    runtime: Runtime, state: str, *, browser_binding: str | None
) -> PendingSignIn:
    """The flow `state` names, once, and only for the browser that started it."""
    key = _FLOW_KEY.format(state=state)
    raw = await runtime.redis.get(key)
    if raw is None:
        raise SignInStateUnknown(
            "This sign-in is unknown, already finished or expired; start again."
        )
    record = json.loads(raw)
    # Checked before the flow is spent, so a stolen callback URL cannot spoil the real one.
    if browser_binding is None or not hmac.compare_digest(
        _digest(browser_binding), record["binding"]
    ):
        raise SignInStateUnknown("This sign-in was started in another browser; start again.")
    if await runtime.redis.getdel(key) is None:
        raise SignInStateUnknown("This sign-in has already been finished.")
    return PendingSignIn(tenant_id=UUID(record["tenant_id"]), flow=record["flow"])


async def finish_sign_in(
    runtime: Runtime, tenant: TenantRef, pending: PendingSignIn, auth_response: dict[str, str]
) -> TokenPair:
    """Redeem the code (MSAL checks `state` and the ID token's nonce), validate the ID token's
    signature, issuer, audience and lifetime, and sign the tenant's user in."""
    assert runtime.entra is not None, "a pending sign-in exists only when Entra is configured"
    result = await asyncio.to_thread(_redeem_code, runtime, pending.flow, auth_response)
    if "error" in result:
        reason = result.get("error_description") or result["error"]
        raise EntraSignInFailed(f"Entra ID did not sign the user in: {reason}")
    if "id_token" not in result:
        raise EntraSignInFailed("Entra ID answered without an ID token.")
    identity = await asyncio.to_thread(runtime.entra.validate, result["id_token"])
    async with runtime.db.transaction(tenant.id) as session:
        user = await auth.user_for_entra_identity(session, tenant, identity)
        return await auth.issue_pair(runtime, session, user, family_id=uuid4())


class _DiscardingTokenCache(msal.TokenCache):
    """MSAL's token cache, keeping nothing: the ID token is validated and dropped, and a
    long-lived process must not collect every user's tokens."""

    def add(self, event: dict[str, Any], now: float | None = None) -> None:
        return None


def _msal_client(runtime: Runtime) -> msal.ClientApplication:
    """The process's MSAL client (thread-safe), built on first use: its constructor fetches the
    discovery document."""
    with _msal_lock:
        client = runtime.services.get(_MSAL_SERVICE)
        if client is None:
            client = runtime.services[_MSAL_SERVICE] = _build_msal_client(runtime)
        return client  # type: ignore[no-any-return]


def _build_msal_client(runtime: Runtime) -> msal.ClientApplication:
    """With a client secret, a confidential client (a "Web" app registration); without, a
    public one that redeems codes with PKCE alone.

    `oidc_authority` makes MSAL read `{authority}/.well-known/openid-configuration`, the same
    document the token validator reads, for any Entra, B2C or local authority alike."""
    settings = runtime.settings
    options: dict[str, Any] = {
        "client_id": settings.entra_client_id,
        "oidc_authority": settings.entra_issuer_base,
        # We only need the ID token; Entra's refresh tokens would go unused.
        "exclude_scopes": ["offline_access"],
        "token_cache": _DiscardingTokenCache(),
        "timeout": 10,
    }
    secret = settings.entra_client_secret.get_secret_value()
    try:
        if secret:
            return msal.ConfidentialClientApplication(client_credential=secret, **options)
        return msal.PublicClientApplication(**options)
    # requests' errors are OSErrors.
    except (ValueError, OSError) as exc:
        raise EntraUnavailable(f"Entra ID discovery failed: {exc}") from exc


def _initiate_flow(runtime: Runtime, redirect_uri: str) -> dict[str, Any]:
    flow: dict[str, Any] = _msal_client(runtime).initiate_auth_code_flow(
        scopes=[], redirect_uri=redirect_uri
    )
    return flow


def _redeem_code(
    runtime: Runtime, flow: dict[str, Any], auth_response: dict[str, str]
) -> dict[str, Any]:
    try:
        result: dict[str, Any] = _msal_client(runtime).acquire_token_by_auth_code_flow(
            flow, auth_response
        )
    except ValueError as exc:  # MSAL's word for a state mismatch or an answer without a code
        raise SignInStateUnknown(
            f"The answer from Entra ID does not fit this sign-in: {exc}."
        ) from exc
    except RuntimeError as exc:  # the ID token's nonce is not this flow's
        raise EntraSignInFailed(f"The ID token does not belong to this sign-in: {exc}.") from exc
    except OSError as exc:
        raise EntraUnavailable(f"Entra ID's token endpoint failed: {exc}") from exc
    return result


def _digest(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()
