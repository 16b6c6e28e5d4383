"""How cxbot connects to Slack (kept apart from slack_bolt, which is imported only when used)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlackConfig:
    signing_secret: str | None
    bot_token: str | None
    api_url: str
    client_id: str | None = None
    client_secret: str | None = None
    app_token: str | None = None
    command: str = "/cx"

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token or self.client_id)

    @property
    def multi_workspace(self) -> bool:
        return bool(self.client_id and self.client_secret)
