"""One settings class, read from `LAPOR_*` environment variables."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "lapor-development-secret-not-for-production-use"


class Settings(BaseSettings):
    """Every knob of the service; defaults give the embedded one-machine setup."""

    model_config = SettingsConfigDict(env_prefix="LAPOR_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    # A PostgreSQL URL; empty: the embedded cluster in var/postgres (lapor/embedded.py).
    database_url: str = ""
    db_pool_max: int = 10
    redis_url: str = "redis://127.0.0.1:6379/0"
    secret_key: str = DEFAULT_SECRET
    token_ttl_seconds: int = 7 * 24 * 3600

    # Deadlines, in working days of the report's region (docs/design.md, "Deadlines").
    verify_days: int = 3
    first_response_days: int = 5
    resolution_days_simple: int = 5
    resolution_days_standard: int = 14
    resolution_days_field: int = 60
    reporter_window_days: int = 10
    escalation_after_days: int = 5
    transfer_cap: int = 3

    # Notifications: e-mail over SMTP (no host: no e-mail is sent), webhook deliveries, sweep.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    # A CA bundle to verify the SMTP server's certificate by (a private relay); empty: the system's.
    smtp_ca_file: str = ""
    smtp_timeout_seconds: float = 15.0
    mail_from: str = "Lapor <no-reply@lapor.localhost>"
    webhook_timeout_seconds: float = 10.0
    delivery_max_attempts: int = Field(default=8, ge=1)
    delivery_backoff_seconds: float = Field(default=5.0, gt=0)
    delivery_backoff_max: float = Field(default=3600.0, gt=0)
    sweep_batch_size: int = Field(default=500, ge=1)
    sweep_every_seconds: int = Field(default=60, ge=1, le=60)
    worker_max_jobs: int = Field(default=10, ge=1)
    worker_health_check_seconds: int = Field(default=5, ge=1)
    worker_shutdown_grace_seconds: int = Field(default=30, ge=0)
    # The outbox relay of each worker: rows relayed at once, and how often it looks for rows
    # when no published event woke it (Redis down, an event published before it listened).
    relay_concurrency: int = Field(default=4, ge=1, le=50)
    relay_poll_seconds: float = Field(default=2.0, gt=0, le=60)

    @property
    def email_enabled(self) -> bool:
        """E-mail notifications are written only when an SMTP server is configured."""
        return bool(self.smtp_host)

    # GraphQL protection.
    max_query_depth: int = 12
    max_query_tokens: int = 2000
    max_query_aliases: int = 30
    max_page_size: int = 100
    default_page_size: int = 20
    parser_cache_size: int = 256
    # Run operations from compiled plans (schema/compiled/); off: graphql-core's generic
    # executor runs everything, as a switch to rule the compiler out.
    compiled_execution: bool = True

    title_max_length: int = 200
    body_max_length: int = 20_000
    message_max_length: int = 10_000

    # GraphiQL's scripts, installed from the npm registry by `lapor console-assets`.
    console_assets_dir: str = "var/console-assets"

    # Frontend API conventions (issue 5).
    # Browser origins allowed to call the API (CORS), e.g. "https://lapor.example,https://m.x".
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Larger request bodies are refused with 413 before they are read.
    max_body_bytes: int = 1_048_576
    # What an operation may cost before it runs: a connection counts its selection `first` times.
    max_query_cost: int = 50_000
    # off: no persisted queries; auto: Apollo's automatic persisted queries (APQ);
    # allowlist: only operations registered with `lapor persisted-queries register` run
    # (console users, SUPERADMIN and COORDINATOR, may still send any operation).
    persisted_queries: Literal["off", "auto", "allowlist"] = "auto"
    persisted_query_ttl_seconds: int = 30 * 24 * 3600
    # How long the console's sign-in cookie lets a browser open the console in production.
    console_session_seconds: int = 12 * 3600
    # Open311 GeoReport v2: most requests per answer, and the default window in days.
    open311_page_size: int = 100
    open311_window_days: int = 90

    # Live subscriptions (issue 4).
    # Limits are per API process: N processes let a user hold N times the connections.
    live_max_subscriptions_per_connection: int = 20
    live_max_connections_per_user: int = 10
    # Events waiting for one subscriber; one more closes its connection as too slow.
    live_queue_size: int = 256
    # A protocol ping every so often; a connection whose pong is missing by the next is dead.
    live_keepalive_seconds: float = 20.0
    # How long a new WebSocket may take to send connection_init with its token.
    live_init_timeout_seconds: float = 10.0
    # permessage-deflate on WebSockets (`lapor api`): events are small, and each compressing
    # connection holds its own zlib state (bench/README.md).
    live_compression: bool = False

    # How long a client's idempotency key answers a retry with the first outcome (a day: a
    # retry comes within minutes, a phone that was offline overnight still within the day).
    idempotency_key_ttl_seconds: int = Field(default=24 * 3600, ge=60)

    workers: int = Field(default=1, description="uvicorn worker processes for `lapor api`")
    # On SIGTERM `lapor api` lets requests in flight finish for this long, then cancels them
    # (their transactions roll back: nothing is half-written).
    api_shutdown_grace_seconds: int = Field(default=20, ge=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # The environment gives one string: origins separated by commas (or a JSON list).
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip().rstrip("/") for part in text.split(",") if part.strip()]
        return value

    @property
    def console_restricted(self) -> bool:
        """Whether the console and introspection are closed to all but console users."""
        return self.env == "production"

    def check_production(self) -> None:
        """Refuse to run in production with a default or empty secret."""
        if self.env == "production" and (
            not self.secret_key or self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32
        ):
            raise RuntimeError(
                "LAPOR_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (LAPOR_ENV=production)"
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
