"""Settings: environment variables prefixed CXBOT_, over an optional TOML file named by CXBOT_CONFIG.

Each group reads its own prefix (CXBOT_HTTP_PORT, CXBOT_SMTP_HOST …) and its own table of the file
(`[http]`, `[smtp]` …); the rules come from the file's `[rules]` table. Loaded once, frozen."""

from __future__ import annotations

import os
import tomllib
from email.utils import parseaddr
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from bot.domain.lost_sales import LostSalesPolicy
from bot.domain.reviews import ReviewPolicy
from bot.domain.rules import DEFAULT_KINDS, DealerRules, KindRules, Rules
from bot.domain.status_words import StatusWords
from bot.domain.values import Kind


class SettingsError(Exception):
    """A setting is wrong or missing; the message names it."""


def _config_file() -> dict[str, Any]:
    path = os.environ.get("CXBOT_CONFIG")
    if not path:
        return {}
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SettingsError(f"CXBOT_CONFIG: no such file {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"CXBOT_CONFIG: {path} is not valid TOML: {e}") from None


class _FileTable(PydanticBaseSettingsSource):
    """One table of the CXBOT_CONFIG file; environment variables win over it."""

    def __init__(self, settings_cls: type[BaseSettings], table: str) -> None:
        super().__init__(settings_cls)
        value = _config_file().get(table, {}) if table else {k: v for k, v in _config_file().items() if not isinstance(v, dict)}
        self.data = value if isinstance(value, dict) else {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


class _Group(BaseSettings):
    table: ClassVar[str] = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileTable(settings_cls, cls.table))


class CoreSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="CXBOT_", frozen=True, extra="ignore")
    table: ClassVar[str] = ""
    database_url: str = "sqlite+aiosqlite:///./cxbot.db"
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    log_level: str = "info"
    log_format: str = "console"  # console | json
    config: str | None = None
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # Where customers reach cxbot's own pages (the lost-sales survey link); behind a proxy, its URL.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _public(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        if not v.startswith(("http://", "https://")) or "?" in v or "#" in v:
            raise ValueError("must be an absolute http(s) URL such as https://cx.example.com, without query or fragment")
        return v.rstrip("/")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @field_validator("api_keys")
    @classmethod
    def _long_enough(cls, v: list[SecretStr]) -> list[SecretStr]:
        for key in v:
            if len(key.get_secret_value()) < 16:
                raise ValueError("each key must have at least 16 characters")
        return v

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError("must be debug, info, warning or error")
        return v.lower()

    @field_validator("log_format")
    @classmethod
    def _format(cls, v: str) -> str:
        if v not in ("console", "json"):
            raise ValueError("must be console or json")
        return v


class HttpSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="CXBOT_HTTP_", frozen=True, extra="ignore")
    table: ClassVar[str] = "http"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_batch: int = Field(default=1000, ge=1, le=100_000)


class SlackSettings(_Group):
    """Slack: a bot token for one workspace, or client id and secret for installs through OAuth."""

    model_config = SettingsConfigDict(env_prefix="CXBOT_SLACK_", frozen=True, extra="ignore")
    table: ClassVar[str] = "slack"
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None  # xapp-…: Socket Mode, no public URL needed
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_url: str = "https://slack.com/api/"
    command: str = "/cx"
    pacing: bool = True
    post_per_channel_per_second: float = Field(default=1.0, gt=0)
    post_per_workspace_per_minute: float = Field(default=300, gt=0)
    update_per_workspace_per_minute: float = Field(default=50, gt=0)
    concurrency: int = Field(default=8, ge=1, le=64)

    @field_validator("api_url")
    @classmethod
    def _api(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL ending in /api/")
        return v if v.endswith("/") else v + "/"

    @field_validator("bot_token")
    @classmethod
    def _bot(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token (xoxb-…)")
        return v

    @field_validator("app_token")
    @classmethod
    def _app(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token (xapp-…) with the connections:write scope")
        return v

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None or self.client_id is not None


class SmtpSettings(_Group):
    """Outgoing mail. With no host, cxbot sends no mail (and says so at start)."""

    model_config = SettingsConfigDict(env_prefix="CXBOT_SMTP_", frozen=True, extra="ignore")
    table: ClassVar[str] = "smtp"
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)  # default by tls: 25, 587 (starttls), 465 (implicit)
    username: str | None = None
    password: SecretStr | None = None  # never logged, never shown by a repr
    tls: Literal["none", "starttls", "implicit"] = "none"
    ca_file: str | None = None  # a private CA to trust (tests, internal relays)
    timeout_seconds: float = Field(default=30.0, gt=0)

    @property
    def effective_port(self) -> int:
        return self.port or {"none": 25, "starttls": 587, "implicit": 465}[self.tls]


class ImapSettings(_Group):
    """The mailbox cxbot reads replies and bounces from. With no host, no mail is read."""

    model_config = SettingsConfigDict(env_prefix="CXBOT_IMAP_", frozen=True, extra="ignore")
    table: ClassVar[str] = "imap"
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)  # default: 993 with implicit TLS, else 143
    username: str | None = None
    password: SecretStr | None = None
    tls: Literal["none", "starttls", "implicit"] = "implicit"
    ca_file: str | None = None
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    rejected_folder: str = "Rejected"
    poll_seconds: float = Field(default=30.0, gt=0)  # without IDLE, or between IDLE renewals
    idle: bool = True
    batch: int = Field(default=100, ge=1, le=1000)

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "implicit" else 143)


class MailSettings(_Group):
    """What cxbot's mail looks like: the sender, where replies go, the secret behind reply tags."""

    model_config = SettingsConfigDict(env_prefix="CXBOT_MAIL_", frozen=True, extra="ignore")
    table: ClassVar[str] = "mail"
    # CXBOT_MAIL_FROM, e.g. "cxbot <cxbot@cx.group.example>" ("from" is a Python keyword).
    sender: str | None = Field(default=None, validation_alias=AliasChoices("CXBOT_MAIL_FROM", "from"))
    reply_address: str | None = None  # the mailbox cxbot reads; default: the address of CXBOT_MAIL_FROM
    secret: SecretStr | None = None  # signs reply and bounce tags; required once mail is on
    verp: bool = True  # per-recipient envelope sender on the mailbox, so every bounce names its address
    bounce_limit: int = Field(default=3, ge=1, le=9)
    bounce_flag_days: int = Field(default=90, ge=1)


class ScheduleSettings(_Group):
    """The scheduler inside `serve`."""

    model_config = SettingsConfigDict(env_prefix="CXBOT_SCHEDULE_", frozen=True, extra="ignore")
    table: ClassVar[str] = "schedule"
    enabled: bool = True
    sweep_seconds: float = Field(default=60.0, gt=0)  # escalations and reminders
    digest: bool = True  # the weekly summary for each dealer's managers
    digest_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    digest_time: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # in each dealer's time zone
    detractor_digest: bool = True  # the daily mail of customers flagged and cleared as detractors (seed 004)
    detractor_digest_time: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # in each dealer's time zone


class OutboxSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="CXBOT_OUTBOX_", frozen=True, extra="ignore")
    table: ClassVar[str] = "outbox"
    poll_seconds: float = Field(default=1.0, gt=0)
    max_attempts: int | None = Field(default=None, ge=1)  # unset: retry until give_up_hours
    give_up_hours: float = Field(default=48, gt=0)
    backoff_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=600.0, gt=0)


class ReviewsSettings(_Group):
    """Public reviews ("CarAdvisor", seed 002): switched on per brand."""

    model_config = SettingsConfigDict(env_prefix="CXBOT_REVIEWS_", frozen=True, extra="ignore")
    table: ClassVar[str] = "reviews"
    brands: Annotated[list[str], NoDecode] = Field(default_factory=list)  # e.g. CXBOT_REVIEWS_BRANDS=Volkswagen,Mazda
    hold_hours: float = Field(default=72.0, ge=0, le=24 * 365)  # the dealer may reply before publication

    @field_validator("brands", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [b.strip() for b in v.split(",") if b.strip()]
        return v

    def policy(self) -> ReviewPolicy:
        return ReviewPolicy.of(self.brands, self.hold_hours)


class LostSalesSettings(_Group):
    """The lost-sales cycle (seed 001): the monthly selection of test-drive prospects."""

    model_config = SettingsConfigDict(env_prefix="CXBOT_LOST_SALES_", frozen=True, extra="ignore")
    table: ClassVar[str] = "lost_sales"
    enabled: bool = True  # the scheduled selection inside `serve`
    window_from_days: int = Field(default=90, ge=1, le=3650)  # test drives requested from run day − this …
    window_to_days: int = Field(default=60, ge=0, le=3650)  # … up to, not including, run day − this
    day: int = Field(default=8, ge=1, le=28)  # day of the month (28 at most: every month has it)
    time: str = Field(default="06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # in each dealer's time zone
    link_days: int = Field(default=14, ge=1, le=365)  # the personal survey link's validity after sending
    reminder_days: int = Field(default=7, ge=0, le=364)  # one reminder this long after sending; 0: none
    survey_url: str | None = None  # a survey platform's page: "https://…{token}…" (and optionally {lang})

    @field_validator("survey_url")
    @classmethod
    def _survey(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if not v.startswith(("http://", "https://")) or "{token}" not in v:
            raise ValueError("must be an http(s) URL containing {token}, e.g. https://survey.example/ls?t={token}&lang={lang}")
        return v.strip()

    @model_validator(mode="after")
    def _window(self) -> "LostSalesSettings":
        if self.window_to_days >= self.window_from_days:
            raise ValueError(f"window_to_days ({self.window_to_days}) must be less than window_from_days ({self.window_from_days})")
        if self.reminder_days >= self.link_days:
            raise ValueError(f"reminder_days ({self.reminder_days}) must be less than link_days ({self.link_days}): the reminder carries the same link")
        return self

    def policy(self) -> LostSalesPolicy:
        hour, minute = (int(x) for x in self.time.split(":"))
        return LostSalesPolicy(
            self.window_from_days, self.window_to_days, self.day, hour, minute, self.link_days, self.reminder_days, self.survey_url
        )


class _KindRulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    due_hours: float | None = Field(default=None, ge=0)
    escalation_hours: list[float] | None = None  # after due, one entry per level
    reminder_hours: float | None = Field(default=None, ge=0)  # before due


class _DealerRulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    hot_alert_max_nps: int | None = Field(default=None, ge=0, le=10)
    hot_alert_max_score: int | None = Field(default=None, ge=1, le=5)
    detractor_max_nps: int | None = Field(default=None, ge=0, le=10)


class _StatusWordsIn(BaseModel):
    """Words a group adds to the built-in table (English, Danish, German, Dutch, Swedish, French, Norwegian)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    resolved: list[str] = Field(default_factory=list)
    ongoing: list[str] = Field(default_factory=list)
    negations: list[str] = Field(default_factory=list)


class RulesSettings(_Group):
    """`[rules]` in the config file; CXBOT_RULES_DETRACTOR_MAX_NPS=7 and the like win over it."""

    model_config = SettingsConfigDict(env_prefix="CXBOT_RULES_", env_nested_delimiter="__", frozen=True, extra="forbid")
    table: ClassVar[str] = "rules"
    hot_alert_max_nps: int = Field(default=6, ge=0, le=10)
    hot_alert_max_score: int = Field(default=2, ge=1, le=5)
    score_max: dict[str, int] = Field(default_factory=dict)
    detractor_max_nps: int = Field(default=6, ge=0, le=10)
    sales_opportunity_lookback_days: int = Field(default=120, ge=1)
    hot_alert: _KindRulesIn = _KindRulesIn()
    sales_opportunity: _KindRulesIn = _KindRulesIn()
    detractor: _KindRulesIn = _KindRulesIn()
    complaint: _KindRulesIn = _KindRulesIn()
    dealers: dict[str, _DealerRulesIn] = Field(default_factory=dict)
    status_words: _StatusWordsIn = _StatusWordsIn()

    def to_rules(self) -> Rules:
        kinds: dict[Kind, KindRules] = {}
        for kind in Kind:
            base = DEFAULT_KINDS[kind]
            given: _KindRulesIn = getattr(self, kind.value)
            due = base.due if given.due_hours is None else timedelta(hours=given.due_hours)
            if kind is Kind.DETRACTOR and given.due_hours is not None:
                due = None  # detractors have no due time by definition
            esc = base.escalation_after_due if given.escalation_hours is None else tuple(timedelta(hours=h) for h in given.escalation_hours)
            rem = base.reminder_before_due if given.reminder_hours is None else timedelta(hours=given.reminder_hours)
            kinds[kind] = KindRules(due, esc, rem)
        return Rules(
            hot_alert_max_nps=self.hot_alert_max_nps,
            hot_alert_max_score=self.hot_alert_max_score,
            score_max=dict(self.score_max),
            detractor_max_nps=self.detractor_max_nps,
            sales_opportunity_lookback=timedelta(days=self.sales_opportunity_lookback_days),
            kinds=kinds,
            dealers={code: DealerRules(**d.model_dump()) for code, d in self.dealers.items()},
            status_words=StatusWords.default().merged(
                resolved=self.status_words.resolved, ongoing=self.status_words.ongoing, negations=self.status_words.negations
            ),
        )


@dataclass(frozen=True)
class Settings:
    core: CoreSettings
    http: HttpSettings
    rules: Rules
    slack: SlackSettings = field(default_factory=SlackSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    imap: ImapSettings = field(default_factory=ImapSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    reviews: ReviewsSettings = field(default_factory=ReviewsSettings)
    lost_sales: LostSalesSettings = field(default_factory=LostSalesSettings)

    @property
    def database_url(self) -> str:
        return self.core.database_url


GROUPS = {
    "core": ("CXBOT_", ""),
    "http": ("CXBOT_HTTP_", "http"),
    "rules": ("CXBOT_RULES_", "rules"),
    "slack": ("CXBOT_SLACK_", "slack"),
    "outbox": ("CXBOT_OUTBOX_", "outbox"),
    "smtp": ("CXBOT_SMTP_", "smtp"),
    "imap": ("CXBOT_IMAP_", "imap"),
    "mail": ("CXBOT_MAIL_", "mail"),
    "schedule": ("CXBOT_SCHEDULE_", "schedule"),
    "reviews": ("CXBOT_REVIEWS_", "reviews"),
    "lost_sales": ("CXBOT_LOST_SALES_", "lost_sales"),
}


def _explain(group: str, err: ValidationError) -> str:
    """One line naming the setting both ways it can be given."""
    first = err.errors()[0]
    parts = [str(p) for p in first["loc"]]
    prefix, table = GROUPS[group]
    env = f"{prefix}{'__'.join(parts)}".upper()
    key = ".".join(([table] if table else []) + parts[:-1])
    in_file = f"[{key}] {parts[-1]}" if key else parts[-1]
    value = first.get("input")
    secret = any(w in env for w in ("KEY", "PASSWORD", "SECRET", "TOKEN"))
    shown = "" if secret or isinstance(value, dict) else f" (got {value!r})"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{env} (or {in_file} in CXBOT_CONFIG): {message}{shown}"


def load_settings() -> Settings:
    """Read and check every setting; a wrong one raises SettingsError naming it."""
    groups: dict[str, Any] = {}
    classes: dict[str, type[_Group]] = {
        "core": CoreSettings, "http": HttpSettings, "rules": RulesSettings, "slack": SlackSettings, "outbox": OutboxSettings,
        "smtp": SmtpSettings, "imap": ImapSettings, "mail": MailSettings, "schedule": ScheduleSettings,
        "reviews": ReviewsSettings, "lost_sales": LostSalesSettings,
    }
    for name, cls in classes.items():
        try:
            groups[name] = cls()
        except ValidationError as e:
            raise SettingsError(_explain(name, e)) from None
    slack: SlackSettings = groups["slack"]
    if slack.client_id and slack.client_secret is None:
        raise SettingsError("CXBOT_SLACK_CLIENT_SECRET: needed with CXBOT_SLACK_CLIENT_ID for installs through OAuth")
    if slack.enabled and slack.app_token is None and slack.signing_secret is None:
        raise SettingsError(
            "CXBOT_SLACK_SIGNING_SECRET: needed to verify Slack's requests (or set CXBOT_SLACK_APP_TOKEN for Socket Mode)"
        )
    if groups["core"].database_url.startswith("sqlite"):
        folder = Path(groups["core"].database_url.split(":///", 1)[-1]).expanduser().parent
        if not folder.is_dir():
            raise SettingsError(f"CXBOT_DATABASE_URL: folder {folder} does not exist")
    _check_mail(groups["smtp"], groups["imap"], groups["mail"])
    if groups["lost_sales"].enabled and groups["smtp"].host and not groups["core"].public_url:
        raise SettingsError(
            "CXBOT_PUBLIC_URL: needed for the links in lost-sales invitations, e.g. https://cx.example.com "
            "(or set CXBOT_LOST_SALES_ENABLED=false)"
        )
    return Settings(
        core=groups["core"], http=groups["http"], rules=groups["rules"].to_rules(), slack=slack, outbox=groups["outbox"],
        smtp=groups["smtp"], imap=groups["imap"], mail=groups["mail"], schedule=groups["schedule"],
        reviews=groups["reviews"], lost_sales=groups["lost_sales"],
    )


def _check_mail(smtp: SmtpSettings, imap: ImapSettings, mail: MailSettings) -> None:
    if not (smtp.host or imap.host):
        return
    if smtp.host and not mail.sender:
        raise SettingsError("CXBOT_MAIL_FROM: needed to send mail, e.g. \"cxbot <cxbot@cx.group.example>\"")
    if mail.sender and "@" not in parseaddr(mail.sender)[1]:
        raise SettingsError(f"CXBOT_MAIL_FROM: {mail.sender!r} has no email address")
    if mail.secret is None or len(mail.secret.get_secret_value()) < 16:
        raise SettingsError("CXBOT_MAIL_SECRET: needed (16+ random characters) to sign the reply and bounce tags of cxbot's mail")
    if imap.host and not (imap.username and imap.password):
        raise SettingsError("CXBOT_IMAP_USERNAME: the mailbox's user name and CXBOT_IMAP_PASSWORD are needed to read replies")
    if smtp.username and smtp.password is None:
        raise SettingsError("CXBOT_SMTP_PASSWORD: needed with CXBOT_SMTP_USERNAME")
