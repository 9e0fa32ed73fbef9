"""Which tenant a request is for: Host subdomain, else `X-Tenant-ID`, else the token's claim.

Host and header that disagree → 403; unknown tenant → 404; inactive → 403. Looking tenants up is
the tenants module's business; this module only applies the rules to what it is given.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from khipu.core.errors import Forbidden, KhipuError, NotFound

SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
RESERVED_SUBDOMAINS = frozenset({"www", "api", "admin", "app", "static", "mail", "khipu"})


@dataclass(frozen=True, slots=True)
class TenantRef:
    id: UUID
    subdomain: str
    is_active: bool
    plan: str
    settings: dict[str, Any]


class TenantRequired(KhipuError):
    status = 400
    title = "Tenant required"


class TenantMismatch(Forbidden):
    title = "Tenant mismatch"


class TenantNotFound(NotFound):
    title = "Tenant not found"


class TenantInactive(Forbidden):
    title = "Tenant inactive"


TenantLookup = Callable[[UUID | None, str | None], Awaitable[TenantRef | None]]


def host_subdomain(host: str | None, base_domain: str) -> str | None:
    """`acme.localhost:8000` → `acme` for base domain `localhost`; a bare host or IP → None."""
    if not host:
        return None
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    hostname = hostname.strip().lower().rstrip(".")
    try:
        ipaddress.ip_address(hostname.strip("[]"))
        return None
    except ValueError:
        pass
    suffix = "." + base_domain.lower()
    if not hostname.endswith(suffix):
        return None
    label = hostname[: -len(suffix)]
    return label if "." not in label and label else None


def parse_tenant_header(value: str | None) -> tuple[UUID | None, str | None]:
    """`X-Tenant-ID` holds a tenant UUID or a subdomain."""
    if not value:
        return None, None
    value = value.strip()
    try:
        return UUID(value), None
    except ValueError:
        pass
    if not SUBDOMAIN.fullmatch(value.lower()):
        raise TenantNotFound("The X-Tenant-ID header is neither a tenant id nor a subdomain.")
    return None, value.lower()


async def resolve_tenant(
    *,
    host: str | None,
    header: str | None,
    claim: UUID | None,
    base_domain: str,
    lookup: TenantLookup,
) -> TenantRef:
    from_host = host_subdomain(host, base_domain)
    header_id, header_subdomain = parse_tenant_header(header)

    tenant: TenantRef | None = None
    if from_host is not None:
        tenant = await lookup(None, from_host)
        if tenant is None:
            raise TenantNotFound(f"No tenant has the subdomain {from_host!r}.")
    if header_id is not None or header_subdomain is not None:
        by_header = await lookup(header_id, header_subdomain)
        if tenant is not None and (by_header is None or by_header.id != tenant.id):
            raise TenantMismatch("The X-Tenant-ID header names a different tenant than the host.")
        if by_header is None:
            raise TenantNotFound("No tenant matches the X-Tenant-ID header.")
        tenant = by_header
    if tenant is None and claim is not None:
        tenant = await lookup(claim, None)
        if tenant is None:
            raise TenantNotFound("The token's tenant does not exist.")
    if tenant is None:
        raise TenantRequired(
            "Say which tenant: use its subdomain as the host, or send X-Tenant-ID."
        )
    if not tenant.is_active:
        raise TenantInactive("This tenant is deactivated.")
    return tenant
