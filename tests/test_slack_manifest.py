"""The shipped Slack app manifests ask for exactly what cxbot uses."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from handlers.slack.app import INSTALL_PATH, REDIRECT_PATH, SCOPES

HANDLED_EVENTS = {"message.channels", "message.groups", "app_uninstalled", "tokens_revoked"}


def manifest(name: str) -> dict:
    return yaml.safe_load(resources.files("bot").joinpath(f"examples/{name}").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["slack-manifest.yml", "slack-manifest-socket.yml"])
def test_manifest_scopes_events_and_command_match_the_app(name):
    m = manifest(name)
    assert m["oauth_config"]["scopes"]["bot"] == SCOPES
    assert set(m["settings"]["event_subscriptions"]["bot_events"]) == HANDLED_EVENTS
    assert [c["command"] for c in m["features"]["slash_commands"]] == ["/cx"]
    assert m["settings"]["interactivity"]["is_enabled"] is True


def test_http_manifest_points_every_request_at_one_url():
    m = manifest("slack-manifest.yml")
    urls = {
        m["settings"]["event_subscriptions"]["request_url"],
        m["settings"]["interactivity"]["request_url"],
        m["features"]["slash_commands"][0]["url"],
    }
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
    assert m["oauth_config"]["redirect_urls"][0].endswith(REDIRECT_PATH)
    assert INSTALL_PATH == "/slack/install"
    assert m["settings"]["socket_mode_enabled"] is False


def test_socket_manifest_needs_no_public_url():
    m = manifest("slack-manifest-socket.yml")
    assert m["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in m["settings"]["event_subscriptions"]
    assert "url" not in m["features"]["slash_commands"][0]
