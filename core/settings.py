"""One settings class, read from `LAPOR_*` environment variables."""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.logs import DEFER_SECONDS

# The constant that signed development tokens until issue 12: refused wherever it is set, since
# anyone who read the code could sign tokens with it.
RETIRED_SECRETS = frozenset({"lapor-development-secret-not-for-production-use"})
MIN_SECRET_LENGTH = 32
RATE = re.compile(r"[1-9][0-9]*/[1-9][0-9]*")


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
    # Signs the bearer tokens. There is no built-in one: `lapor run` keeps a random one in
    # var/secret_key; everywhere else it must be set (docs/adr/0018).
    secret_key: str = ""
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
    # How long after a merge the coordinator may undo it (issue 15).
    merge_undo_hours: int = Field(default=72, ge=0)

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
    # Where webhooks may go (docs/adr/0021): https only, to public addresses. Plain http is a
    # development setting (refused in production); networks listed here (CIDR, comma separated,
    # e.g. an agencies' VPN "10.20.0.0/16") are let through although private.
    webhook_allow_http: bool = False
    webhook_allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # A CA bundle to verify agencies' receivers by (a government CA); empty: the system's.
    webhook_ca_file: str = ""
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

    # Transparency figures (issue 16, README "Transparency"): a figure over fewer reports than
    # the minimum sample is shown but not ranked; over fewer than a small cell it is withheld
    # (and a scope that received fewer shows no breakdown). The worker folds changed reports
    # into the counts every few seconds, this many reports per transaction.
    transparency_min_sample: int = Field(default=10, ge=1)
    transparency_small_cell: int = Field(default=3, ge=1)
    transparency_batch_size: int = Field(default=500, ge=1, le=10_000)
    transparency_every_seconds: int = Field(default=10, ge=1, le=60)

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

    # Attachments (photos and documents of reports, models/storage.py): an S3-compatible bucket
    # when one is named, else a directory on this machine (in production an absolute path on a
    # volume that outlives the container). Keys go under the prefix. Empty endpoint: AWS itself.
    # Empty access keys: botocore's usual chain (AWS_* variables, an instance role); keys come
    # from the environment only.
    files_dir: str = "var/files"
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_prefix: str = "attachments/"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # What one change may bring (files, bytes of each as sent), what a report may hold (files,
    # bytes as stored after cleaning), how large a stored image and a thumbnail are (the longest
    # side, in pixels; 2000 lets a 12-megapixel JPEG decode at half its size, about ten times
    # faster than at 2560, bench/media.py), and how long a signed download link lives.
    upload_max_files: int = Field(default=5, ge=1)
    upload_max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    upload_max_report_files: int = Field(default=20, ge=1)
    upload_max_report_bytes: int = Field(default=30 * 1024 * 1024, ge=1)
    upload_image_max_side: int = Field(default=2000, ge=64, le=10_000)
    thumbnail_side: int = Field(default=320, ge=32, le=1024)
    file_link_ttl_seconds: int = Field(default=300, ge=1)
    # How old stored bytes no row refers to must be before the hourly janitor deletes them (a
    # crash between a store and its commit leaves such bytes). A change in flight is safe at any
    # age under the key's lock; the grace is a second guard.
    files_orphan_grace_seconds: int = Field(default=3600, ge=60)
    # The API's origin as clients reach it (e.g. https://api.lapor.go.id), for the links it
    # gives; empty: the origin each request came to.
    public_url: str = ""

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

    # Rate limits (docs/adr/0020), counted in Redis for every API process together: "N/S" lets
    # N requests through per S seconds (a sliding window), "off" turns one off. Per IP they are
    # generous (a carrier-grade NAT puts many people behind one address), per account strict.
    # Without Redis nothing is limited (and a warning is logged).
    rate_limits: bool = True
    rate_sign_in_per_ip: str = "60/60"
    rate_sign_in_per_account: str = "30/3600"
    rate_register_per_ip: str = "20/3600"
    rate_register_per_account: str = "3/86400"
    rate_submit_per_ip: str = "300/3600"
    rate_submit_per_account: str = "30/3600"
    # Back-off after failed sign-ins to one account: after the free ones, each failure doubles
    # the wait before the next try (2 s, 4 s, ... up to the maximum); a success clears it.
    sign_in_free_failures: int = Field(default=3, ge=0)
    sign_in_backoff_seconds: float = Field(default=2.0, gt=0)
    sign_in_backoff_max_seconds: float = Field(default=900.0, gt=0)

    # How long a client's idempotency key answers a retry with the first outcome (a day: a
    # retry comes within minutes, a phone that was offline overnight still within the day).
    idempotency_key_ttl_seconds: int = Field(default=24 * 3600, ge=60)

    # On SIGTERM `lapor api` lets requests in flight finish for this long, then cancels them
    # (their transactions roll back: nothing is half-written).
    api_shutdown_grace_seconds: int = Field(default=20, ge=0)

    workers: int = Field(default=1, description="uvicorn worker processes for `lapor api`")
    # How long an access line may wait to be written with the next ones, in one write
    # (docs/adr/0050); 0 writes each at once.
    log_defer_seconds: float = Field(default=DEFER_SECONDS, ge=0, le=60)
    # /metrics has a port of its own, for the internal network only (docs/adr/0022); 0: none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)

    @field_validator(
        "rate_sign_in_per_ip",
        "rate_sign_in_per_account",
        "rate_register_per_ip",
        "rate_register_per_account",
        "rate_submit_per_ip",
        "rate_submit_per_account",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        text = value.strip().lower()
        if text != "off" and not RATE.fullmatch(text):
            raise ValueError('a rate limit is "N/S" (N requests per S seconds) or "off"')
        return text

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

    @field_validator("webhook_allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for network in value:
            ipaddress.ip_network(network, strict=False)  # a ValueError names the bad one
        return value

    @model_validator(mode="after")
    def _s3_keys_in_pairs(self) -> Settings:
        # One of the two alone would sign with half a credential (or silently fall back to the
        # machine's own): a typo in a deployment, refused at start rather than at the first upload.
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            raise ValueError(
                "LAPOR_S3_ACCESS_KEY_ID and LAPOR_S3_SECRET_ACCESS_KEY are set together or not "
                "at all"
            )
        return self

    @property
    def console_restricted(self) -> bool:
        """Whether the console and introspection are closed to all but console users."""
        return self.env == "production"

    def check_secret(self) -> None:
        """Refuse to sign or read tokens without a random secret of at least 32 characters (any
        environment: a built-in secret would let anyone who read the code sign tokens)."""
        if len(self.secret_key) < MIN_SECRET_LENGTH or self.secret_key in RETIRED_SECRETS:
            raise RuntimeError(
                f"LAPOR_SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} "
                "characters (`lapor run` keeps one in var/secret_key)"
            )

    def check_production(self) -> None:
        """Refuse to run in production with a missing or weak secret, or with webhooks allowed
        over plain http."""
        if self.env == "production":
            self.check_secret()
            if self.webhook_allow_http:
                raise RuntimeError(
                    "LAPOR_WEBHOOK_ALLOW_HTTP is a development setting: webhooks in production "
                    "go over https"
                )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
