"""The app's life in a workspace: installed through OAuth, uninstalled, tokens revoked."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import Context, workspaces


class InstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store on cxbot's database (tables made by cxbot's migrations), which also
    records the workspace as installed — and connected again after an earlier removal."""

    def __init__(self, cx: Context, client_id: str, engine: AsyncEngine, forget: Any) -> None:
        super().__init__(client_id=client_id, engine=engine)
        self.cx = cx
        self.forget = forget

    async def async_save(self, installation: Installation) -> None:
        await super().async_save(installation)
        if installation.team_id:
            self.forget(installation.team_id)  # a reinstall may bring a new token: use it at once
            await workspaces.installed(self.cx, installation.team_id, installation.team_name)


class LifecycleHandlers:
    def __init__(self, cx: Context, store: AsyncSQLAlchemyInstallationStore | None, forget: Any) -> None:
        self.cx = cx
        self.store = store
        self.forget = forget

    async def removed(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        team = body.get("team_id") or ""
        if not team or (event.get("type") == "tokens_revoked" and not (event.get("tokens") or {}).get("bot")):
            return  # only user tokens were revoked: the bot still works
        if self.store is not None:
            await self.store.async_delete_all(enterprise_id=None, team_id=team)
        self.forget(team)
        await workspaces.removed(self.cx, team, event.get("type", "removed"))


def register(app: AsyncApp, cx: Context, store: AsyncSQLAlchemyInstallationStore | None, forget: Any) -> None:
    h = LifecycleHandlers(cx, store, forget)
    app.event("app_uninstalled")(h.removed)
    app.event("tokens_revoked")(h.removed)
