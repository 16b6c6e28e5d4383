"""Calls to Slack's Web API with the right workspace's token; Slack's answers become delivery
errors the dispatcher understands. The dispatcher alone retries, so the SDK's own retries are off."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.errors import PermanentFailure, RetryLater

log = structlog.get_logger()

# Slack's error codes (HTTP 200, ok: false). Anything not listed as passing is permanent: it is
# marked failed with the code as its reason rather than retried forever.
PASSING = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"}
EXPLAINED = {
    "channel_not_found": "channel not found (wrong id, or a private channel the bot was not invited to)",
    "not_in_channel": "the bot is not a member of the channel: /invite @cxbot there",
    "is_archived": "the channel is archived",
    "invalid_auth": "the bot token is not valid",
    "account_inactive": "the bot token belongs to a deactivated app or workspace",
    "token_revoked": "the bot token was revoked",
    "missing_scope": "the app lacks a scope it needs: reinstall it with the manifest's scopes",
    "message_not_found": "the message to update no longer exists",
}


class NotConnected(PermanentFailure):
    pass


class SlackSender:
    """One shared HTTP session for every workspace (a session per call halves throughput)."""

    def __init__(
        self,
        api_url: str,
        bot_token: str | None = None,
        installations: AsyncInstallationStore | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.bot_token = bot_token
        self.installations = installations
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[str, AsyncWebClient] = {}
        self._tokens: dict[str, tuple[str | None, float]] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def forget(self, team_id: str) -> None:
        """Drop a cached token (the workspace removed the app, or reinstalled it)."""
        self._tokens.pop(team_id, None)

    async def token(self, team_id: str | None) -> str:
        if team_id and self.installations is not None:
            cached = self._tokens.get(team_id)
            if cached is None or cached[1] < time.monotonic():
                bot = await self.installations.async_find_bot(enterprise_id=None, team_id=team_id)
                cached = (bot.bot_token if bot else None, time.monotonic() + 300)
                self._tokens[team_id] = cached
            if cached[0]:
                return cached[0]
        if self.bot_token:
            return self.bot_token
        if team_id:
            raise NotConnected(f"cxbot is not installed in Slack workspace {team_id}")
        raise NotConnected("Slack is not configured (set CXBOT_SLACK_BOT_TOKEN or install the app)")

    def client(self, token: str) -> AsyncWebClient:
        c = self._clients.get(token)
        if c is None:
            c = AsyncWebClient(token=token, base_url=self.api_url, session=self.session, timeout=int(self.timeout), retry_handlers=[])
            self._clients[token] = c
        return c

    async def call(self, team_id: str | None, method: str, **params: Any) -> dict[str, Any]:
        client = self.client(await self.token(team_id))
        try:
            response = await client.api_call(method, json=params)
        except SlackApiError as e:
            raise _translate(e) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise RetryLater(f"cannot reach Slack: {type(e).__name__} {e}".strip()) from None
        return dict(response.data) if isinstance(response.data, dict) else {}


def _translate(e: SlackApiError) -> Exception:
    status = e.response.status_code
    if status == 429:
        after = e.response.headers.get("Retry-After") or e.response.headers.get("retry-after")
        try:
            seconds = float(after[0] if isinstance(after, list) else after) if after else None
        except ValueError:
            seconds = None
        return RetryLater("rate limited by Slack (429)", seconds)
    if status >= 500:
        return RetryLater(f"Slack answered HTTP {status}")
    code = str(e.response.get("error", "unknown_error")) if isinstance(e.response.data, dict) else f"HTTP {status}"
    if code in PASSING:
        return RetryLater(f"Slack: {code}")
    return PermanentFailure(f"{code}: {EXPLAINED[code]}" if code in EXPLAINED else code)
