"""Slack's request URL and the OAuth install pages, served by cxbot's own HTTP server."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp

from handlers.slack.app import INSTALL_PATH, REDIRECT_PATH


def mount(api: FastAPI, app: AsyncApp, *, events: bool = True, oauth: bool = False) -> None:
    handler = AsyncSlackRequestHandler(app)

    async def forward(request: Request) -> Response:
        return await handler.handle(request)

    if events:
        api.add_api_route("/slack/events", forward, methods=["POST"], include_in_schema=False)
    if oauth:
        api.add_api_route(INSTALL_PATH, forward, methods=["GET"], include_in_schema=False)
        api.add_api_route(REDIRECT_PATH, forward, methods=["GET"], include_in_schema=False)
