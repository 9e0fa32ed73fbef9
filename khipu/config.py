"""Settings from the environment (`KHIPU_*`), with secrets from Azure Key Vault when configured.

Embedded defaults (`khipu up` with nothing set) are filled in by `khipu.core.embedded`, which writes
the URLs of the servers it starts into the environment before the settings are read.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Secrets that may live in Key Vault: setting name -> Key Vault secret name.
KEY_VAULT_SECRETS = {
    "jwt_secret": "khipu-jwt-secret",
    "platform_admin_token": "khipu-platform-admin-token",
    "azure_speech_key": "azure-speech-key",
    "azure_openai_api_key": "azure-openai-api-key",
    "openai_api_key": "openai-api-key",
    "entra_client_secret": "khipu-entra-client-secret",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KHIPU_", extra="ignore", populate_by_name=True)

    home: Path = Path(".khipu")
    environment: Literal["development", "test", "production"] = "development"

    # Servers. Empty means "embedded" for `khipu up`; the app itself requires them to be set.
    database_url: str = ""
    migration_database_url: str = ""
    redis_url: str = ""
    storage_url: str = ""
    db_pool_size: int = 10

    # Tenancy and HTTP.
    base_domain: str = "localhost"
    cors_origins: list[str] = Field(default_factory=list)
    max_json_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 50 * 1024 * 1024
    trust_forwarded_for: bool = False
    #: How long a process remembers a tenant it looked up (a change made elsewhere shows after it).
    tenant_cache_seconds: float = 5.0

    # Identity.
    platform_admin_token: SecretStr = SecretStr("")
    jwt_secret: SecretStr = SecretStr("")
    jwt_issuer: str = "khipu"
    jwt_audience: str = "khipu-api"
    access_token_minutes: int = 15
    refresh_token_days: int = 7
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    login_failures_per_email: int = 10
    login_failures_per_address: int = 100
    login_failure_window_seconds: int = 15 * 60
    entra_tenant: str = ""
    entra_client_id: str = ""
    entra_authority: str = ""  # defaults to https://login.microsoftonline.com/{entra_tenant}/v2.0
    #: Set: the server-side sign-in is a confidential client (a "Web" app registration);
    #: empty: a public client that redeems codes with PKCE alone.
    entra_client_secret: SecretStr = SecretStr("")
    #: Where Entra sends the browser back; empty: this API's own callback URL, from the request.
    entra_redirect_uri: str = ""
    key_vault_url: str = ""

    # Audio.
    tts_engine: Literal["piper", "azure", "openai"] = "piper"
    ffmpeg: str = ""
    azure_speech_key: SecretStr = Field(default=SecretStr(""), alias="AZURE_SPEECH_KEY")
    azure_speech_region: str = Field(default="", alias="AZURE_SPEECH_REGION")
    azure_speech_host: str = ""  # e.g. ws://127.0.0.1:PORT for a local endpoint
    azure_openai_endpoint: str = Field(default="", alias="AZURE_OPENAI_ENDPOINT")
    azure_openai_api_key: SecretStr = Field(default=SecretStr(""), alias="AZURE_OPENAI_API_KEY")
    azure_openai_api_version: str = "2025-03-01-preview"
    azure_openai_tts_deployment: str = "gpt-4o-mini-tts"
    azure_openai_chat_deployment: str = "gpt-4o-mini"
    openai_api_key: SecretStr = Field(default=SecretStr(""), alias="OPENAI_API_KEY")
    openai_base_url: str = ""
    openai_tts_model: str = "gpt-4o-mini-tts"
    openai_chat_model: str = "gpt-4o-mini"
    #: Estimated USD per million characters synthesised, per engine.
    tts_prices_per_million_chars: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "piper": Decimal("0"),
            "azure": Decimal("16"),
            "openai": Decimal("15"),
        }
    )
    #: Estimated USD per million LLM tokens (input and output averaged).
    llm_price_per_million_tokens: Decimal = Decimal("0.6")
    synthesis_concurrency_per_tenant: int = 4
    segment_max_chars: int = 1000

    # Jobs.
    job_timeout_seconds: int = 1800
    #: A running job proves it is alive this often; its lock lasts 4 beats, and the sweeper
    #: re-enqueues a job whose last beat is older than `job_stale_after_seconds`.
    job_heartbeat_seconds: float = 15.0
    job_stale_after_seconds: int = 90
    sweeper_interval_seconds: int = 30
    worker_max_jobs: int = 4

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def entra_enabled(self) -> bool:
        return bool(self.entra_client_id and (self.entra_tenant or self.entra_authority))

    @property
    def entra_issuer_base(self) -> str:
        return self.entra_authority or f"https://login.microsoftonline.com/{self.entra_tenant}/v2.0"


def load_secrets_from_key_vault(settings: Settings) -> Settings:
    """Fill secret settings from Azure Key Vault (DefaultAzureCredential) where it has them."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient

    client = SecretClient(vault_url=settings.key_vault_url, credential=DefaultAzureCredential())
    updates: dict[str, SecretStr] = {}
    for field, secret_name in KEY_VAULT_SECRETS.items():
        try:
            value = client.get_secret(secret_name).value
        except ResourceNotFoundError:
            continue
        if value:
            updates[field] = SecretStr(value)
    return settings.model_copy(update=updates)


@cache
def get_settings() -> Settings:
    settings = Settings()
    if settings.key_vault_url:
        settings = load_secrets_from_key_vault(settings)
    return settings
