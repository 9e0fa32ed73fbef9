"""The long-lived things a process needs (pool, Redis, blob store, token services), built once
per API process or worker and handed to requests and jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from khipu.config import Settings
from khipu.core.db import Database
from khipu.core.security import AccessTokens, EntraTokenValidator, PasswordHashing
from khipu.core.storage import BlobStore, open_blob_store


class MisconfiguredError(RuntimeError):
    """A required setting is missing."""


def arq_redis_settings(url: str) -> RedisSettings:
    """arq settings from `redis://`, `rediss://` or `unix:///path/to/socket` URLs."""
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return RedisSettings(unix_socket_path=unquote(parsed.path))
    return RedisSettings.from_dsn(url)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: ArqRedis  # a redis.asyncio client that can also enqueue arq jobs
    blobs: BlobStore
    tokens: AccessTokens
    passwords: PasswordHashing
    entra: EntraTokenValidator | None
    #: Long-lived objects a module creates on first use in this process (e.g. TTS engines).
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        missing = [
            name
            for name, value in (
                ("KHIPU_DATABASE_URL", settings.database_url),
                ("KHIPU_REDIS_URL", settings.redis_url),
                ("KHIPU_JWT_SECRET", settings.jwt_secret.get_secret_value()),
            )
            if not value
        ]
        if missing:
            raise MisconfiguredError(f"missing settings: {', '.join(missing)}")
        redis = await create_pool(arq_redis_settings(settings.redis_url))
        entra = None
        if settings.entra_enabled:
            entra = EntraTokenValidator(
                issuer=settings.entra_issuer_base, client_id=settings.entra_client_id
            )
        return cls(
            settings=settings,
            db=Database(settings.database_url, pool_size=settings.db_pool_size),
            redis=redis,
            blobs=open_blob_store(settings.storage_url, home=settings.home),
            tokens=AccessTokens(
                secret=settings.jwt_secret.get_secret_value(),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                ttl_seconds=settings.access_token_minutes * 60,
            ),
            passwords=PasswordHashing(
                time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
            ),
            entra=entra,
        )

    async def close(self) -> None:
        for service in self.services.values():
            for part in service.values() if isinstance(service, dict) else (service,):
                aclose = getattr(part, "aclose", None)
                if aclose is not None:
                    await aclose()
        await self.blobs.close()
        await self.redis.aclose()
        await self.db.dispose()
