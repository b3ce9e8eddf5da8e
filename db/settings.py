"""The one typed settings object, read from the environment (see API.md)."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CBRTL_"
S3_MIN_PART = 5 * 1024**2
MIN_SECRET_BYTES = 32


class ConfigError(Exception):
    """Configuration that cannot work; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: Path = Path("./var")
    database_url: str | None = None
    broker_url: str | None = None
    redis_url: str | None = None
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    secret_key: str | None = Field(default=None, repr=False)
    env: Literal["development", "production", "test"] = "development"
    port: int = Field(default=5000, ge=1, le=65535, validation_alias="PORT")
    # Flower's port (the monitoring UI); a second platform on one machine sets its own.
    flower_port: int = Field(default=5555, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Log lines: one JSON object each (for collectors), or plain text for people.
    log_format: Literal["json", "text"] = "json"
    # Comma-separated modules of extra job types a worker loads (plugins; fault tests).
    extra_task_modules: str | None = None
    # RabbitMQ queue type: quorum (replicated, with a delivery limit) or classic.
    queue_type: Literal["quorum", "classic"] = "quorum"
    # Jobs: an unpublished row older than this is the relay's to publish.
    outbox_grace_s: float = Field(default=10.0, ge=0)
    # Comma-separated origins allowed to call the API from other sites; unset: CORS off.
    cors_origins: str | None = None
    # How many reverse proxies (nginx) set X-Forwarded-For in front of the web.
    proxy_count: int = Field(default=0, ge=0, le=5)
    rate_limit_login_ip: str = "30 per minute"
    # Wrong passwords per account from one client address (sign-in and password change):
    # past it that client gets 429. Per account from all addresses, past the alert rate
    # the platform warns and slows failures down, never refusing the right password.
    rate_limit_login_account: str = "5 per 15 minutes"
    rate_limit_login_account_alert: str = "20 per 15 minutes"
    rate_limit_register_ip: str = "10 per hour"
    rate_limit_upload_user: str = "60 per hour"
    # Video uploads: the largest accepted source, the size of each resumable chunk
    # (S3 wants at least 5 MiB for every part but the last), how long an unfinished
    # upload may wait before it is cleaned up.
    max_upload_bytes: int = Field(default=4 * 1024**3, ge=1)
    upload_chunk_bytes: int = Field(default=8 * 1024**2, ge=64 * 1024, le=512 * 1024**2)
    upload_ttl_s: int = Field(default=24 * 3600, ge=60)
    # Playback: a CDN in front of the media bucket (public URLs), else signed URLs
    # that live this long.
    media_base_url: str | None = None
    signed_url_ttl_s: int = Field(default=6 * 3600, ge=60, le=7 * 24 * 3600)
    # Trending and genre rows of the home page, kept per web process (0: rebuilt per request).
    home_rows_ttl_s: int = Field(default=30, ge=0, le=3600)
    # The one origin every absolute URL is built from, never the request's Host
    # (unset: http://127.0.0.1:$PORT).
    public_url: str | None = None

    @field_validator(
        "rate_limit_login_ip",
        "rate_limit_login_account",
        "rate_limit_login_account_alert",
        "rate_limit_register_ip",
        "rate_limit_upload_user",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must be a rate such as '5 per minute'") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"amqp", "pyamqp", "filesystem"}:
            raise ValueError("must be an amqp:// URL or filesystem://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must be a redis:// URL")
        return value or None

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in {"file", "s3"} or (parts.scheme == "s3" and not parts.netloc):
                raise ValueError("must be file:///path or s3://bucket[/prefix]")
        return value

    @field_validator("upload_chunk_bytes")
    @classmethod
    def _chunk_fits_s3(cls, value: int, info: ValidationInfo) -> int:
        storage = info.data.get("storage_url") or ""
        if storage.startswith("s3:") and value < S3_MIN_PART:
            raise ValueError("must be at least 5 MiB (5242880) when storage is S3")
        return value

    @field_validator("home_rows_ttl_s")
    @classmethod
    def _home_rows_ttl(cls, value: int, info: ValidationInfo) -> int:
        # Kept rows hold signed media URLs: they must outlive the rows many times over.
        signed = info.data.get("signed_url_ttl_s") or 0
        if signed and value * 10 > signed:
            raise ValueError("must be at most a tenth of CBRTL_SIGNED_URL_TTL_S")
        return value

    @field_validator("media_base_url")
    @classmethod
    def _media_base(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in {"http", "https"}:
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/") if value else None

    @field_validator("public_url")
    @classmethod
    def _public_origin(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        extra = parts.path not in {"", "/"} or parts.query or parts.fragment or "@" in parts.netloc
        if parts.scheme not in {"http", "https"} or not parts.hostname or extra:
            raise ValueError(
                "must be an http(s):// origin with no path, e.g. https://cbrtl.example"
            )
        parts.port  # noqa: B018 - a port that is not a number raises here
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url
        if self.env == "production":  # links to 127.0.0.1 would work for no viewer
            raise ConfigError("CBRTL_PUBLIC_URL: required when CBRTL_ENV=production")
        return f"http://127.0.0.1:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'cbrtl.db'}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{self.data_dir.resolve() / 'media'}"

    @property
    def broker_folder(self) -> Path:
        """Where the embedded (filesystem) broker keeps its messages."""
        return self.data_dir.resolve() / "broker"

    @property
    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once into the data folder."""
        if self.env == "production":
            if not self.secret_key:
                raise ConfigError("CBRTL_SECRET_KEY: required when CBRTL_ENV=production")
            # HS256 tokens and session cookies are only as strong as this key.
            if len(self.secret_key.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"CBRTL_SECRET_KEY: must be at least {MIN_SECRET_BYTES} bytes"
                    " when CBRTL_ENV=production"
                )
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    # Aliased fields (PORT) report their alias, which is already the variable's name.
    name = field if field.isupper() else ENV_PREFIX + field.upper()
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{name}: {message}"


def load_settings() -> Settings:
    """Read the environment; raise ConfigError naming the first bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


def load_settings_or_exit() -> Settings:
    """For process entry points: a bad value stops the process with one line."""
    try:
        settings = load_settings()
        settings.resolved_secret_key  # noqa: B018 - fail at start, not at first request
        settings.resolved_public_url  # noqa: B018
        return settings
    except ConfigError as error:
        print(f"cbrtl: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
