"""Builds and wires everything: settings → context → database → HTTP server (and, later, Slack,
mail and the scheduler)."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

import structlog
import uvicorn
from fastapi import FastAPI

from bot.domain.clock import Clock, SystemClock
from bot.services import Context, keys
from bot.services.keys import KeyRing
from bot.settings import Settings, SettingsError
from handlers.http.app import create_api
from handlers.http.common import HttpLimits
from storage import migrate
from storage.database import Database

log = structlog.get_logger()


def build_context(settings: Settings, clock: Clock | None = None) -> Context:
    db = Database(settings.database_url, pool_size=settings.core.db_pool_size)
    return Context(db=db, rules=settings.rules, clock=clock or SystemClock())


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


def build_api(settings: Settings, cx: Context) -> FastAPI:
    ring = KeyRing([k.get_secret_value() for k in settings.core.api_keys])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Background workers (outbox dispatcher, scheduler, mail reader) start and stop here.
        yield

    return create_api(cx, ring, HttpLimits(settings.http.max_body_bytes, settings.http.max_batch), lifespan)


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
        app = build_api(settings, cx)
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", server_header=False)
        server = uvicorn.Server(config)
        host, port = sock.getsockname()[:2]
        log.info("serving", url=f"http://{host}:{port}", database=cx.db.display_url)
        if on_ready:
            result = on_ready(host, port)
            if asyncio.iscoroutine(result):
                await result
        await server.serve(sockets=[sock])
    finally:
        await cx.db.close()


async def _any_stored_key(cx: Context) -> bool:
    return any(k.revoked_at is None for k in await keys.all_keys(cx))
