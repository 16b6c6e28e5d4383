"""Builds and wires everything: settings → context → database → HTTP server, Slack, the outbox
dispatcher (and, later, mail and the scheduler)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from datetime import timedelta
from email.utils import parseaddr
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Iterator

import structlog
import uvicorn
from fastapi import FastAPI

from bot.domain.clock import Clock, SystemClock
from bot.jobs import Jobs
from bot.services import Context, keys
from bot.services.keys import KeyRing
from bot.settings import Settings, SettingsError
from handlers.email.reader import ImapConfig, MailboxReader
from handlers.http.app import create_api
from handlers.http.common import HttpLimits
from handlers.slack.config import SlackConfig
from notifications.dispatcher import DispatchSettings, Dispatcher
from notifications.email.compose import MailIdentity
from notifications.email.delivery import MailDelivery
from notifications.email.sender import SmtpConfig, SmtpSender
from notifications.pacing import Rate, SlackPaces
from storage import migrate
from storage.checkpoint import WalCheckpointer
from storage.database import Database

if TYPE_CHECKING:
    from notifications.slack.client import SlackSender

log = structlog.get_logger()


def build_context(settings: Settings, clock: Clock | None = None) -> Context:
    db = Database(settings.database_url, pool_size=settings.core.db_pool_size)
    return Context(
        db=db, rules=settings.rules, clock=clock or SystemClock(), reviews=settings.reviews.policy(),
        lost_sales=settings.lost_sales.policy(), public_url=settings.core.public_url or "",
    )


async def open_context(settings: Settings, clock: Clock | None = None) -> Context:
    """A context whose database is reachable and migrated to the newest schema."""
    try:
        cx = build_context(settings, clock)
    except ValueError as e:
        raise SettingsError(f"CXBOT_DATABASE_URL: {e}") from None
    await cx.db.check()
    before, after = await migrate.upgrade(cx.db)
    if before != after:
        log.info("database_migrated", database=cx.db.display_url, before=before, after=after)
    return cx


@dataclass
class Runtime:
    """Everything `serve` runs: the HTTP app (API and Slack), the dispatcher, Slack's sender."""

    cx: Context
    api: FastAPI
    dispatcher: Dispatcher
    slack_app: Any = None  # slack_bolt's AsyncApp when Slack is configured
    sender: SlackSender | None = None
    reader: MailboxReader | None = None


def configured_channels(settings: Settings) -> frozenset[str]:
    """The outbound channels `serve` delivers on with these settings: Slack with a bot token or an
    OAuth app, mail with an SMTP host. Nothing is queued for the others."""
    return frozenset(c for c, on in (("slack", slack_config(settings).enabled), ("mail", bool(settings.smtp.host))) if on)


def slack_config(settings: Settings) -> SlackConfig:
    s = settings.slack
    secret = lambda v: v.get_secret_value() if v is not None else None  # noqa: E731
    return SlackConfig(
        signing_secret=secret(s.signing_secret),
        bot_token=secret(s.bot_token),
        api_url=s.api_url,
        client_id=s.client_id,
        client_secret=secret(s.client_secret),
        app_token=secret(s.app_token),
        command=s.command,
    )


def build_runtime(settings: Settings, cx: Context, *, background: bool = True) -> Runtime:
    """Wire everything; `background=False` leaves the dispatcher for the caller to drive (tests)."""
    config = slack_config(settings)
    cx = dataclasses.replace(cx, public_url=settings.core.public_url or cx.public_url, lost_sales=settings.lost_sales.policy())
    channels = configured_channels(settings)
    deliveries: list[Any] = []
    sender: SlackSender | None = None
    if "slack" in channels:
        # aiohttp and slack_sdk's web client load only when Slack is on: a tenth of the start-up time.
        from notifications.slack.client import SlackSender
        from notifications.slack.delivery import SlackDelivery

        sender = SlackSender(config.api_url, config.bot_token)
        s = settings.slack
        paces = (
            SlackPaces(Rate(s.post_per_channel_per_second), Rate.per_minute(s.post_per_workspace_per_minute), Rate.per_minute(s.update_per_workspace_per_minute))
            if s.pacing
            else None
        )
        deliveries.append(SlackDelivery(cx.db, sender, paces, concurrency=s.concurrency))
    if "mail" in channels:
        deliveries.append(mail_delivery(settings, cx))
    o = settings.outbox
    dispatcher = Dispatcher(
        cx.db,
        cx.clock,
        deliveries,
        DispatchSettings(
            max_attempts=o.max_attempts,
            give_up_after=timedelta(hours=o.give_up_hours),
            backoff_base=o.backoff_seconds,
            backoff_max=o.backoff_max_seconds,
            poll_seconds=o.poll_seconds,
        ),
    )
    m = settings.mail
    cx = dataclasses.replace(
        cx,
        wake=dispatcher.wake,
        channels=channels,
        mail_secret=m.secret.get_secret_value().encode() if m.secret else b"",
        bounce_limit=m.bounce_limit,
        bounce_flag_days=m.bounce_flag_days,
    )
    reader = mailbox_reader(settings, cx) if settings.imap.host else None
    slack_app = None
    if sender is not None:
        # slack_bolt is imported only when Slack is on: it is a third of the start-up time.
        from handlers.slack.app import build_slack_app

        slack_app, store = build_slack_app(cx, config, sender.forget)
        sender.installations = store
    ring = KeyRing([k.get_secret_value() for k in settings.core.api_keys])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        if slack_app is not None and sender is not None:
            # Bolt's clients (views.open on a click) share the sender's HTTP session: slack_sdk
            # otherwise opens a new session and connection for every call.
            slack_app.client.session = sender.session
        tasks = [asyncio.create_task(dispatcher.run(stop), name="dispatcher")] if background else []
        if reader is not None and background:
            tasks.append(asyncio.create_task(reader.run(stop), name="mailbox"))
        if cx.db.dialect == "sqlite" and background:
            tasks.append(asyncio.create_task(WalCheckpointer(cx.db).run(stop), name="wal-checkpoint"))
        sched = settings.schedule
        digest_at = (sched.digest_day, sched.digest_time) if sched.digest else None
        detractors_at = sched.detractor_digest_time if sched.detractor_digest else None
        jobs = Jobs(cx, sched.sweep_seconds, digest_at, detractors_at, settings.lost_sales.enabled) if background and sched.enabled else None
        if jobs is not None:
            jobs.start()
        socket = None
        if slack_app is not None and config.app_token and background:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket = AsyncSocketModeHandler(slack_app, config.app_token)
            await socket.connect_async()
            log.info("slack_socket_mode_connected")
        try:
            yield
        finally:
            if jobs is not None:
                jobs.stop()
            stop.set()
            if socket is not None:
                await socket.close_async()
            await asyncio.gather(*tasks, return_exceptions=True)
            await dispatcher.close()

    api = create_api(cx, ring, HttpLimits(settings.http.max_body_bytes, settings.http.max_batch), lifespan)
    if slack_app is not None:
        from handlers.slack.http import mount

        mount(api, slack_app, events=config.signing_secret is not None, oauth=config.multi_workspace)
    return Runtime(cx, api, dispatcher, slack_app, sender, reader)


def mail_identity(settings: Settings) -> MailIdentity:
    m = settings.mail
    sender = m.sender or ""
    reply = m.reply_address or parseaddr(sender)[1]
    secret = m.secret.get_secret_value().encode() if m.secret else b""
    return MailIdentity(sender=sender, reply_address=reply, secret=secret, verp=m.verp)


def mail_delivery(settings: Settings, cx: Context) -> MailDelivery:
    s = settings.smtp
    assert s.host
    smtp = SmtpSender(
        SmtpConfig(
            host=s.host,
            port=s.effective_port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            tls=s.tls,
            ca_file=s.ca_file,
            timeout=s.timeout_seconds,
        )
    )
    return MailDelivery(cx.db, cx.clock, smtp, mail_identity(settings), settings.mail.bounce_limit, cx.lost_sales, cx.public_url)


def mailbox_reader(settings: Settings, cx: Context) -> MailboxReader:
    i, m = settings.imap, settings.mail
    assert i.host and i.username and i.password
    reply = m.reply_address or parseaddr(m.sender or "")[1] or i.username
    config = ImapConfig(
        host=i.host,
        port=i.effective_port,
        username=i.username,
        password=i.password.get_secret_value(),
        tls=i.tls,
        ca_file=i.ca_file,
        folder=i.folder,
        processed=i.processed_folder,
        rejected=i.rejected_folder,
        poll_seconds=i.poll_seconds,
        idle=i.idle,
        batch=i.batch,
        local_part=reply.partition("@")[0],
    )
    return MailboxReader(cx, config, settings.rules.status_words)


def build_api(settings: Settings, cx: Context) -> FastAPI:
    return build_runtime(settings, cx).api


def bind(host: str, port: int) -> socket.socket:
    """Bind before serving, so a taken port is one clear line rather than a server log."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise SettingsError(f"CXBOT_HTTP_HOST: cannot resolve {host!r}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise SettingsError(f"CXBOT_HTTP_PORT: cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(settings: Settings, on_ready: Callable[[str, int], Awaitable[None] | None] | None = None) -> None:
    """Run `cxbot serve` until SIGINT/SIGTERM."""
    sock = bind(settings.http.host, settings.http.port)
    cx = await open_context(settings)
    try:
        if not settings.core.api_keys and not await _any_stored_key(cx):
            log.warning("no_api_keys", hint="the API answers 401 to every request: set CXBOT_API_KEYS or run `cxbot keys create`")
        runtime = build_runtime(settings, cx)
        _say_how_slack_runs(settings)
        _say_how_mail_runs(settings)
        config = uvicorn.Config(runtime.api, log_config=None, access_log=False, lifespan="on", server_header=False)
        server = _Server(config)
        host, port = sock.getsockname()[:2]
        log.info("serving", url=f"http://{host}:{port}", database=cx.db.display_url)
        if on_ready:
            result = on_ready(host, port)
            if asyncio.iscoroutine(result):
                await result
        await server.serve(sockets=[sock])
    finally:
        await cx.db.close()


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down gracefully, which kills the process
    before cxbot closes its database; a stop that was asked for is a clean exit (status 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


async def _any_stored_key(cx: Context) -> bool:
    return any(k.revoked_at is None for k in await keys.all_keys(cx))


def _say_how_slack_runs(settings: Settings) -> None:
    s = settings.slack
    if not s.enabled:
        log.warning("slack_disabled", hint="no CXBOT_SLACK_BOT_TOKEN or CXBOT_SLACK_CLIENT_ID: alerts are not posted to Slack")
    elif s.app_token is not None:
        log.info("slack_enabled", mode="socket", workspaces="oauth" if s.client_id else "single")
    else:
        log.info("slack_enabled", mode="http", request_url="/slack/events", workspaces="oauth" if s.client_id else "single")


def _say_how_mail_runs(settings: Settings) -> None:
    if not settings.smtp.host:
        log.warning("mail_disabled", hint="no CXBOT_SMTP_HOST: no alert mail is sent")
    else:
        log.info("mail_enabled", smtp=f"{settings.smtp.host}:{settings.smtp.effective_port}", tls=settings.smtp.tls)
    if not settings.imap.host:
        log.info("mail_replies_off", hint="no CXBOT_IMAP_HOST: replies to alert mail are not read")
    else:
        log.info("mail_replies_on", imap=f"{settings.imap.host}:{settings.imap.effective_port}", folder=settings.imap.folder)
