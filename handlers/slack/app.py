"""The slack-bolt app: one workspace with a bot token, or any number through Slack's OAuth flow."""

from __future__ import annotations

import logging
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Context
from handlers.slack import complaints
from handlers.slack import commands, lifecycle, reviews, status, threads
from handlers.slack.config import SlackConfig

SCOPES = [
    "chat:write",  # post alert messages and thread notes; update them in place
    "commands",  # the /cx slash command
    "channels:history",  # thread replies in public channels (message events)
    "groups:history",  # … and in private channels the bot was invited to
    "users:read",
    "team:read",
]
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"


def build_slack_app(cx: Context, config: SlackConfig, forget_token: object) -> tuple[AsyncApp, lifecycle.InstallationStore | None]:
    """The bolt app with every cxbot listener registered (shared by HTTP and Socket Mode)."""
    logger = logging.getLogger("slack_bolt")
    store = None
    if config.multi_workspace:
        assert config.client_id and config.client_secret
        store = lifecycle.InstallationStore(cx, config.client_id, cx.db.engine, forget_token)
        states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=cx.db.engine)
        app = AsyncApp(
            signing_secret=config.signing_secret,
            client=AsyncWebClient(base_url=config.api_url),
            installation_store=store,
            oauth_settings=AsyncOAuthSettings(
                client_id=config.client_id,
                client_secret=config.client_secret,
                scopes=SCOPES,
                installation_store=store,
                state_store=states,
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
            ),
            logger=logger,
            request_verification_enabled=config.signing_secret is not None,
        )
    else:
        app = AsyncApp(
            signing_secret=config.signing_secret,
            client=AsyncWebClient(token=config.bot_token, base_url=config.api_url),
            logger=logger,
            request_verification_enabled=config.signing_secret is not None,
        )
    status.register(app, cx)
    complaints.register(app, cx)
    reviews.register(app, cx)
    threads.register(app, cx)
    commands.register(app, cx, config.command)
    lifecycle.register(app, cx, store, forget_token)
    return app, store
