"""cxbot installed into many workspaces through Slack's OAuth flow: each dealer's alerts go out with
its own workspace's token, requests are answered with their own, and a workspace can leave."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from bot.domain.values import Status
from notifications.slack import ids
from storage.models import SlackWorkspace
from tests.conftest import response, running, slack_settings
from tests.fakes.slack_payloads import app_uninstalled_event, tokens_revoked_event
from tests.fakes.slack_signing import event, interactivity, slash_command
from tests.slack_support import (
    BRANDT,
    BRANDT_CHANNEL,
    CAMILLA,
    METTE,
    SABINE,
    VEST,
    VEST_CHANNEL,
    alert_and_history,
    card_of,
    click,
    command,
    eventually,
    metadata,
    new_alert,
    outbox,
    send_reply,
    settle,
    snapshot,
    submission,
)

CLIENT_ID, CLIENT_SECRET = "1234.5678", "shh-secret"
STATE_COOKIE = "slack-app-oauth-state"


@pytest.fixture
async def multi(db_url: str, cx: Any, slack: Any, example_dealers: None) -> AsyncIterator[Any]:
    """cxbot as a multi-workspace app (client id and secret, no bot token), nothing installed yet."""
    slack.oauth_client = (CLIENT_ID, CLIENT_SECRET)
    settings = slack_settings(
        db_url, api_url=slack.url, bot_token=None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    async with running(settings, cx, slack) as b:
        yield b


async def _start_install(bot: Any) -> str:
    """GET /slack/install: the page links to Slack's authorize URL with a fresh state, also set as a cookie."""
    r = await bot.client.get("/slack/install", follow_redirects=False)
    assert r.status_code in (200, 302), r.text
    url = r.headers.get("location") or re.search(
        r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', r.text
    ).group(1)  # type: ignore[union-attr]
    query = parse_qs(urlparse(url.replace("&amp;", "&")).query)
    assert query["client_id"] == [CLIENT_ID] and "chat:write" in query["scope"][0] and "commands" in query["scope"][0]
    state = query["state"][0]
    assert f"{STATE_COOKIE}={state}" in r.headers["set-cookie"]
    return state


async def _redirect(bot: Any, state: str | None, cookie: str | None, code: str = "code-1") -> Any:
    params = {"code": code} | ({"state": state} if state is not None else {})
    headers = {"Cookie": f"{STATE_COOKIE}={cookie}"} if cookie is not None else {}
    return await bot.client.get("/slack/oauth_redirect", params=params, headers=headers, follow_redirects=False)


async def install(bot: Any, team: str, name: str) -> str:
    """Install cxbot into `team` through the real flow; returns the bot token Slack issued."""
    bot.slack_api.oauth_team = (team, name)
    state = await _start_install(bot)
    r = await _redirect(bot, state, state, code=f"code-{team}")
    assert r.status_code == 200, r.text
    token = bot.slack_api.last("oauth.v2.access").response["access_token"]
    assert bot.slack_api.issued[token] == team
    return str(token)


async def _installed_bot(bot: Any, team: str) -> Any:
    return await bot.runtime.sender.installations.async_find_bot(enterprise_id=None, team_id=team)


async def _workspace(bot: Any, team: str) -> tuple[bool, bool]:
    """(known, removed) for a workspace in cxbot's own records."""
    async with bot.cx.db.read() as tx:
        row = (await tx.conn.execute(select(SlackWorkspace.__table__).where(SlackWorkspace.team_id == team))).first()
    return row is not None, row is not None and row.uninstalled_at is not None


async def _de_alert(bot: Any, id_: str = "r-de") -> str:
    r = await bot.post(
        "/api/v1/responses", response(id_, dealer_id="DE-2001", nps=2, customer={"id": "K-9", "name": "Jürgen Weiß"})
    )
    assert r.status_code == 202
    return next(a["id"] for a in r.json()["alerts"] if a["id"].startswith("HA-"))


@pytest.fixture
async def two(multi: Any) -> tuple[Any, str, str]:
    """Installed into both example workspaces: (bot, Autohuset Vest's token, Autohaus Brandt's token)."""
    vest = await install(multi, VEST, "Autohuset Vest")
    brandt = await install(multi, BRANDT, "Autohaus Brandt")
    assert vest != brandt
    return multi, vest, brandt


# ---- installing -----------------------------------------------------------------------------------


async def test_installing_through_oauth_stores_each_workspace(multi):
    token = await install(multi, VEST, "Autohuset Vest")
    access = multi.slack_api.last("oauth.v2.access")
    assert access.basic_auth == (CLIENT_ID, CLIENT_SECRET) or (
        access.body.get("client_id"),
        access.body.get("client_secret"),
    ) == (CLIENT_ID, CLIENT_SECRET)
    assert access.body["code"] == f"code-{VEST}"
    found = await _installed_bot(multi, VEST)
    assert found is not None and found.bot_token == token
    assert await _workspace(multi, VEST) == (True, False)
    assert await _installed_bot(multi, BRANDT) is None


async def test_oauth_redirect_with_a_wrong_or_missing_state_is_refused(multi):
    issued = await _start_install(multi)
    attempts = [
        ("forged-state", "forged-state"),  # a state cxbot never issued
        (None, None),  # no state at all
        (issued, None),  # an issued state, but not from the browser that started the install
        (issued, "another-state"),
        ("not-" + issued, issued),
    ]
    for state, cookie in attempts:
        r = await _redirect(multi, state, cookie)
        assert r.status_code in (400, 401, 403), (state, cookie, r.status_code)
    assert multi.slack_api.calls_to("oauth.v2.access") == []
    assert multi.slack_api.issued == {}
    assert await _installed_bot(multi, "T0DEFAULT") is None
    assert await _workspace(multi, "T0DEFAULT") == (False, False)
    # The state that was issued is still good for the browser that holds its cookie.
    assert (await _redirect(multi, issued, issued)).status_code == 200
    assert await _workspace(multi, "T0DEFAULT") == (True, False)


async def test_a_state_is_good_for_one_install_only(multi):
    state = await _start_install(multi)
    assert (await _redirect(multi, state, state)).status_code == 200
    again = await _redirect(multi, state, state, code="code-2")
    assert again.status_code in (400, 401, 403)
    assert len(multi.slack_api.calls_to("oauth.v2.access")) == 1


# ---- each workspace with its own token --------------------------------------------------------------


async def test_each_dealers_alert_is_posted_with_its_own_workspaces_token(two):
    bot, vest, brandt = two
    dk = await new_alert(bot, "r-1")
    de = await _de_alert(bot)
    assert await bot.deliver() == 2
    dk_card, de_card = card_of(bot.slack_api, dk), card_of(bot.slack_api, de)
    assert (dk_card.token, dk_card.body["channel"]) == (vest, VEST_CHANNEL)
    assert (de_card.token, de_card.body["channel"]) == (brandt, BRANDT_CHANNEL)

    # Changes go back with the same workspace's token: the update and the thread note.
    await bot.slack_request(interactivity(submission(BRANDT, SABINE, metadata(de, "resolved"), "Rückruf erledigt")))
    assert await bot.deliver() == 2
    assert bot.slack_api.last("chat.update").token == brandt
    note = bot.slack_api.last("chat.postMessage")
    assert note.token == brandt and note.body["thread_ts"] == de_card.response["ts"]
    assert {c.token for c in bot.slack_api.calls_to("chat.postMessage") if c.body["channel"] == VEST_CHANNEL} == {vest}


async def test_alerts_for_a_workspace_cxbot_was_never_installed_in_are_marked_failed(multi):
    vest = await install(multi, VEST, "Autohuset Vest")
    dk = await new_alert(multi, "r-1")
    de = await _de_alert(multi)
    assert await multi.deliver() == 2
    rows = {r.alert_id: r for r in await outbox(multi)}
    assert rows[dk].status == "done" and card_of(multi.slack_api, dk).token == vest
    assert rows[de].status == "failed" and rows[de].last_error == f"cxbot is not installed in Slack workspace {BRANDT}"
    assert all(c.body["channel"] != BRANDT_CHANNEL for c in multi.slack_api.calls_to("chat.postMessage"))


async def test_each_request_is_answered_with_its_own_workspaces_installation(two):
    bot, vest, brandt = two
    dk = await new_alert(bot, "r-1")
    de = await _de_alert(bot)
    await bot.deliver()
    dk_ts, de_ts = card_of(bot.slack_api, dk).response["ts"], card_of(bot.slack_api, de).response["ts"]
    await bot.slack_request(click(bot, VEST, METTE, ids.RESOLVED, dk, dk_ts))
    await bot.slack_request(click(bot, BRANDT, SABINE, ids.CUSTOMER, de, de_ts, channel=BRANDT_CHANNEL))
    opened = await bot.slack_api.wait_for("views.open", 2)
    tokens = {c.body["view"]["callback_id"]: c.token for c in opened}
    assert tokens == {ids.STATUS_MODAL: vest, ids.CUSTOMER_MODAL: brandt}
    answer = await command(bot, f"resolve {dk} Called her", team=VEST, user=METTE)
    assert "*Resolved*" in answer["text"]


async def test_a_request_from_one_workspace_about_anothers_alert_is_refused(two):
    bot, _, brandt = two
    dk = await new_alert(bot, "r-1")
    await bot.deliver()
    ts = card_of(bot.slack_api, dk).response["ts"]
    before = await snapshot(bot, dk)
    for user in (SABINE, CAMILLA):  # Camilla is granted DK-1001, but not from Autohaus Brandt's workspace
        answer = await command(bot, f"resolve {dk} Called her", team=BRANDT, user=user, channel=BRANDT_CHANNEL)
        assert answer["text"].startswith(f"Not allowed: there is no alert {dk} that you may act on.")
        assert dk not in (await command(bot, "alerts", team=BRANDT, user=user, channel=BRANDT_CHANNEL))["text"]
        r = await bot.slack_request(interactivity(submission(BRANDT, user, metadata(dk, "resolved"), "Called her")))
        assert r.json()["response_action"] == "errors"
    await bot.slack_request(click(bot, BRANDT, CAMILLA, ids.RESOLVED, dk, ts, channel=BRANDT_CHANNEL))
    (answer,) = await bot.slack_api.wait_for("response_url")
    assert answer.body["text"].startswith("Not allowed")
    await send_reply(bot, BRANDT, SABINE, "Resolved – called her", ts)
    (ephemeral,) = await bot.slack_api.wait_for("chat.postEphemeral")
    assert ephemeral.token == brandt and ephemeral.body["text"].startswith("Not allowed")
    assert bot.slack_api.calls_to("views.open") == []
    assert await snapshot(bot, dk) == before
    # From her own dealer's workspace, Camilla may.
    answer = await command(bot, f"resolve {dk} Called her", team=VEST, user=CAMILLA)
    assert "*Resolved*" in answer["text"]


# ---- leaving ----------------------------------------------------------------------------------------


async def _failed_for(bot: Any, team: str) -> list[Any]:
    return [r for r in await outbox(bot, "failed") if r.team_id == team]


@pytest.mark.parametrize(
    "goodbye",
    [app_uninstalled_event(VEST), tokens_revoked_event(VEST, ["UBOT"])],
    ids=["app_uninstalled", "tokens_revoked"],
)
async def test_a_workspace_that_removes_the_app_gets_nothing_more_and_the_others_keep_flowing(two, goodbye):
    bot, _, brandt = two
    kind = goodbye["event"]["type"]
    dk = await new_alert(bot, "r-1")  # pending when the workspace leaves
    de = await _de_alert(bot)
    r = await bot.slack_request(event(goodbye))
    assert r.status_code == 200

    failed = await eventually(lambda: _failed_for(bot, VEST))
    assert [row.alert_id for row in failed] == [dk]
    assert "removed" in failed[0].last_error and VEST in failed[0].last_error and kind in failed[0].last_error
    assert await _workspace(bot, VEST) == (True, True)
    assert await _installed_bot(bot, VEST) is None
    assert await _installed_bot(bot, BRANDT) is not None

    assert await bot.deliver() == 1  # Autohaus Brandt's card still goes out
    assert [(c.token, c.body["channel"]) for c in bot.slack_api.calls_to("chat.postMessage")] == [
        (brandt, BRANDT_CHANNEL)
    ]
    assert card_of(bot.slack_api, de).token == brandt


async def test_later_alerts_for_a_removed_workspace_are_never_sent_there(two):
    bot, _, brandt = two
    await bot.slack_request(event(app_uninstalled_event(VEST)))
    await eventually(lambda: _removed(bot, VEST))
    later = await new_alert(bot, "r-2", customer={"id": "K-2", "name": "Bo Ek"})
    de = await _de_alert(bot)
    await bot.deliver()
    rows = await outbox(bot)
    # Slack rows for the removed workspace, if any are queued at all, end failed with the reason (a
    # mail fallback, when mail is configured, is the email issue's); none is ever sent there.
    for row in rows:
        if row.alert_id == later and row.action.startswith("slack."):
            assert row.status == "failed" and "removed" in (row.last_error or "")
    assert [r.status for r in rows if r.alert_id == de] == ["done"]
    assert [(c.token, c.body["channel"]) for c in bot.slack_api.calls_to("chat.postMessage")] == [
        (brandt, BRANDT_CHANNEL)
    ]
    # The alert itself is kept: it can still be handled elsewhere (API, mail).
    alert, _ = await alert_and_history(bot, later)
    assert alert.status is Status.NEW


async def test_revoking_only_user_tokens_changes_nothing(two):
    bot, vest, _ = two
    dk = await new_alert(bot, "r-1")
    await bot.deliver()
    ts = card_of(bot.slack_api, dk).response["ts"]
    r = await bot.slack_request(event(tokens_revoked_event(VEST, [], user_ids=["U0INSTALLER"])))
    assert r.status_code == 200
    await settle(bot, ts)  # events are handled in order: the revocation has been by now
    assert await _workspace(bot, VEST) == (True, False)
    assert await _installed_bot(bot, VEST) is not None
    await command(bot, f"ongoing {dk} Called her", team=VEST, user=METTE)
    assert await bot.deliver() == 2
    assert {c.token for c in bot.slack_api.calls_to("chat.postMessage")} | {
        bot.slack_api.last("chat.update").token
    } == {vest}


async def test_a_workspace_that_installs_again_gets_alerts_again(two):
    bot, old, _ = two
    await bot.slack_request(event(app_uninstalled_event(VEST)))
    await eventually(lambda: _removed(bot, VEST))
    new = await install(bot, VEST, "Autohuset Vest")
    assert new != old
    assert await _workspace(bot, VEST) == (True, False)
    dk = await new_alert(bot, "r-1")
    assert await bot.deliver() == 1
    assert card_of(bot.slack_api, dk).token == new


async def _removed(bot: Any, team: str) -> bool:
    return (await _workspace(bot, team))[1]


async def test_a_request_from_a_removed_workspace_is_not_acted_on(two):
    bot, _, _ = two
    dk = await new_alert(bot, "r-1")
    await bot.slack_request(event(app_uninstalled_event(VEST)))
    await eventually(lambda: _removed(bot, VEST))
    before = await snapshot(bot, dk)
    body = slash_command(
        team_id=VEST,
        user_id=METTE,
        channel_id=VEST_CHANNEL,
        text=f"resolve {dk} Called her",
        response_url=bot.slack_api.url + "response_url",
    )
    r = await bot.slack_request(body)
    assert r.status_code == 200
    (answer,) = await bot.slack_api.wait_for("response_url")
    assert "install" in answer.body["text"]
    assert await snapshot(bot, dk) == before
    assert bot.slack_api.calls_to("chat.postEphemeral") == []
