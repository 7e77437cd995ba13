"""Settings, exactly as the table in shared/CONTRACT.md: environment first, then `.env` in the working dir."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SMSKA_URL = "http://my2.smska.net/api/httppost.php"


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, int):
        return [value]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    bot_token: SecretStr
    telegram_api_url: str = "https://api.telegram.org"

    smska_url: str = DEFAULT_SMSKA_URL
    smska_api_key: str
    smska_api_password: SecretStr
    smska_sender_ids: Annotated[list[str], NoDecode]
    smska_timeout: float = Field(default=10.0, gt=0)

    database_path: Path = Path("data/bot.sqlite3")
    # postgresql://user:password@host:5432/name runs on PostgreSQL (third wave); unset: SQLite at database_path.
    database_url: SecretStr | None = None
    failover_seconds: float = Field(default=15.0, gt=0)  # issue 27: how soon another replica takes over
    admin_ids: Annotated[list[int], NoDecode]
    default_locale: Literal["ru", "en"] = "ru"

    delivery_poll_initial: float = Field(default=10.0, gt=0)
    delivery_poll_max: float = Field(default=300.0, gt=0)
    delivery_track_hours: float = Field(default=72.0, gt=0)
    draft_ttl_hours: float = Field(default=24.0, gt=0)  # a preview older than this cannot send
    low_balance_threshold: Decimal | None = None
    # Issue 17: one ringing notice when an accepted SMS is still not final this many minutes after it was accepted.
    delivery_alert_minutes: float = Field(default=10.0, gt=0)
    # Issue 17: the preview warns when the same number got an SMS from the team within this many minutes.
    duplicate_window_minutes: float = Field(default=15.0, gt=0)

    # Spend limits per operator, in SMS parts over the last hour / day (unset or blank: no limit).
    operator_parts_per_hour: int | None = Field(default=500, ge=1)
    operator_parts_per_day: int | None = Field(default=None, ge=1)

    # Several recipients in one send (issue 17): gateway sends at a time, the cap.
    send_concurrency: int = Field(default=4, ge=1, le=64)
    max_recipients: int = Field(default=50, ge=1, le=1000)  # one send reaches at most this many recipients

    # After this many days a send's text and number are erased (who, when, outcome stay); unset: keep.
    retention_days: float | None = Field(default=None, gt=0)

    timezone: str = "Europe/Moscow"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    health_port: int | None = Field(default=None, ge=1, le=65535)
    # Polling mode: the address HEALTH_PORT listens on (/healthz, /readyz, /metrics, /alerts); 127.0.0.1 keeps
    # them on the machine. The image keeps 0.0.0.0: its port is published on the host's loopback only.
    health_host: str = "0.0.0.0"

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    metrics_token: SecretStr | None = None  # when set, /metrics asks for `Authorization: Bearer <it>`

    # Team feed (issue 18): a group or channel that sees one line per send (the SMS text only when asked).
    team_chat_id: int | None = None
    team_feed_text: bool = False
    # Alerts in (issue 18): POST /alerts with `Authorization: Bearer <it>`; a group key posted once per window.
    alert_token: SecretStr | None = None
    alert_repeat_minutes: float = Field(default=30.0, gt=0)
    # Duty by schedule (issue 29): an iCalendar address (a secret: private links carry a key), read this often.
    duty_calendar_url: SecretStr | None = None
    duty_calendar_minutes: float = Field(default=5.0, gt=0)
    # Escalation (issue 28): groups whose `severity` label is one of these escalate; auto-SMS for the whole team in
    # any hour (20: a bad night's pages for a few people, far below a storm's hundreds); one recipient gets at most
    # one auto-SMS in this many minutes (steps due for them meanwhile go as one).
    escalate_severities: Annotated[list[str], NoDecode] = ["critical"]
    escalation_sms_per_hour: int = Field(default=30, ge=1)
    escalation_bundle_minutes: float = Field(default=5.0, ge=0)

    @field_validator("smska_sender_ids", "admin_ids", "escalate_severities", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("smska_sender_ids", "admin_ids")
    @classmethod
    def _not_empty(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("must name at least one value")
        return value

    @field_validator("default_locale", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator(
        "low_balance_threshold",
        "operator_parts_per_hour",
        "operator_parts_per_day",
        "retention_days",
        "health_port",
        "webhook_url",
        "webhook_secret",
        "metrics_token",
        "team_chat_id",
        "alert_token",
        "database_url",
        "duty_calendar_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("duty_calendar_url")
    @classmethod
    def _calendar_address(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip().lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// address of an .ics file (webcal://: write https://)")
        return value

    @field_validator("alert_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError("at least 16 characters (e.g. openssl rand -hex 24)")
        return value

    @field_validator("team_chat_id")
    @classmethod
    def _group_or_channel(cls, value: int | None) -> int | None:
        # People's ids are positive, groups' and channels' negative: a person here would get every SMS line
        # and alert, and an admin's own id would make the alerts' buttons vanish (issue 24 row 16).
        if value is not None and value >= 0:
            raise ValueError("must be a group or channel id (negative, e.g. -1001234567890), not a person's")
        return value

    @field_validator("health_host")
    @classmethod
    def _host_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be an address to listen on, e.g. 127.0.0.1 or 0.0.0.0")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def default_sender(self) -> str:
        return self.smska_sender_ids[0]


class SettingsError(Exception):
    """One plain line naming the variable; never the value (it may be a secret)."""


def describe_error(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        if err["type"] == "missing":
            problems.append(f"{name} is required but not set")
        else:
            problems.append(f"{name} is malformed: {err['msg']}")
    return "; ".join(problems)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_error(exc)) from None
