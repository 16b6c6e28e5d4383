"""The fake Slack Web API and the request signer behave like Slack for the real slack_sdk client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import (
    app_uninstalled_event,
    block_actions,
    thread_reply_event,
    tokens_revoked_event,
    view_submission,
)
from tests.fakes.slack_signing import event, interactivity, sign, signed, slash_command, url_verification

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def client(slack: FakeSlack, token: str = "xoxb-1", **kw: object) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=slack.url, retry_handlers=[], **kw)  # type: ignore[arg-type]


async def test_post_message_is_recorded_and_answered_with_increasing_ts(slack: FakeSlack) -> None:
    web = client(slack)
    first = await web.chat_postMessage(channel="C1", text="hello", blocks=[{"type": "divider"}])
    second = await web.chat_postMessage(channel="C1", text="again", thread_ts=first["ts"])

    assert first["ok"] and first["channel"] == "C1"
    assert float(second["ts"]) > float(first["ts"])
    call = slack.last("chat.postMessage")
    assert call.token == "xoxb-1" and call.headers["authorization"] == "Bearer xoxb-1"
    assert call.body == {"channel": "C1", "text": "again", "thread_ts": first["ts"]}
    assert [c.body["text"] for c in slack.calls_to("chat.postMessage")] == ["hello", "again"]
    assert slack.calls_to("chat.postMessage")[0].body["blocks"] == [{"type": "divider"}]


async def test_other_methods_answer_like_slack(slack: FakeSlack) -> None:
    web = client(slack)
    posted = await web.chat_postMessage(channel="C1", text="x")
    updated = await web.chat_update(channel="C1", ts=posted["ts"], text="y")
    ephemeral = await web.chat_postEphemeral(channel="C1", user="U1", text="only you")
    modal = {"type": "modal", "callback_id": "cb", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
    view = await web.views_open(trigger_id="t1", view=modal)
    auth = await web.auth_test()
    other = await web.reactions_add(channel="C1", timestamp=posted["ts"], name="eyes")

    assert (updated["channel"], updated["ts"]) == ("C1", posted["ts"])
    assert ephemeral["message_ts"]
    assert view["view"]["id"].startswith("V") and view["view"]["callback_id"] == "cb"
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T0DEFAULT", "UBOT", "BBOT")
    assert other["ok"] is True
    assert [c.method for c in slack.calls] == [
        "chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "auth.test", "reactions.add"
    ]


async def test_rate_limit_surfaces_status_and_retry_after(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", 429, retry_after=2)
    web = client(slack)

    with pytest.raises(SlackApiError) as raised:
        await web.chat_postMessage(channel="C1", text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "2"
    assert raised.value.response["error"] == "ratelimited"

    again = await web.chat_postMessage(channel="C1", text="x")  # only the next call was scripted
    assert again["ok"]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]


async def test_outage_answers_5xx(slack: FakeSlack) -> None:
    slack.fail("chat.update", 503, times=2)
    web = client(slack)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            await web.chat_update(channel="C1", ts="1.2", text="x")
        assert raised.value.response.status_code == 503
    assert (await web.chat_update(channel="C1", ts="1.2", text="x"))["ok"]


async def test_error_answers_ok_false_with_http_200(slack: FakeSlack) -> None:
    slack.error("chat.update", "channel_not_found")
    web = client(slack)

    with pytest.raises(SlackApiError) as raised:
        await web.chat_update(channel="C404", ts="1.2", text="x")
    assert raised.value.response.status_code == 200
    assert raised.value.response["ok"] is False and raised.value.response["error"] == "channel_not_found"
    assert slack.last("chat.update").ok is False


async def test_shared_session_serves_many_concurrent_calls(slack: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        web = client(slack, session=session)
        answers = await asyncio.gather(*(web.chat_postMessage(channel=f"C{i % 3}", text=str(i)) for i in range(50)))
    assert len({a["ts"] for a in answers}) == 50
    assert len(await slack.wait_for("chat.postMessage", 50, timeout=1)) == 50


async def test_wait_for_times_out_with_what_arrived(slack: FakeSlack) -> None:
    await client(slack).auth_test()
    with pytest.raises(AssertionError, match="got 0; all calls: auth.test:200"):
        await slack.wait_for("chat.postMessage", timeout=0.05)


async def test_tokens_give_each_workspace_its_team_and_refuse_unknown_ones(slack: FakeSlack) -> None:
    slack.tokens = {"xoxb-a": "TA", "xoxb-b": "TB"}

    assert (await client(slack, "xoxb-a").auth_test())["team_id"] == "TA"
    assert (await client(slack, "xoxb-b").auth_test())["team_id"] == "TB"
    with pytest.raises(SlackApiError) as raised:
        await client(slack, "xoxb-stolen").chat_postMessage(channel="C1", text="x")
    assert raised.value.response["error"] == "invalid_auth"


# slack_sdk builds the client_id/secret header with aiohttp.BasicAuth, deprecated since aiohttp 3.14.
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
async def test_oauth_v2_access_installs_into_the_scripted_team(slack: FakeSlack) -> None:
    slack.tokens = {}
    slack.oauth_team = ("T123", "Acme Motors")
    slack.oauth_client = ("111.222", "s3cret")
    web = AsyncWebClient(base_url=slack.url, retry_handlers=[])

    answer = await web.oauth_v2_access(client_id="111.222", client_secret="s3cret", code="code-1")
    assert answer["team"] == {"id": "T123", "name": "Acme Motors"} and answer["token_type"] == "bot"
    assert answer["access_token"].startswith("xoxb-") and answer["is_enterprise_install"] is False
    assert slack.last("oauth.v2.access").basic_auth == ("111.222", "s3cret")
    assert slack.last("oauth.v2.access").body["code"] == "code-1"
    assert (await client(slack, answer["access_token"]).auth_test())["team_id"] == "T123"

    with pytest.raises(SlackApiError) as raised:
        await web.oauth_v2_access(client_id="111.222", client_secret="wrong", code="code-2")
    assert raised.value.response["error"] == "bad_client_secret"


async def test_oauth_v2_access_accepts_the_client_secret_as_form_fields(slack: FakeSlack) -> None:
    slack.oauth_client = ("111.222", "s3cret")
    web = AsyncWebClient(base_url=slack.url, retry_handlers=[])
    fields = {"client_id": "111.222", "client_secret": "s3cret", "code": "code-1"}

    answer = await web.api_call("oauth.v2.access", data=fields)
    assert answer["team"]["id"] == "T0DEFAULT" and slack.last("oauth.v2.access").body == fields
    with pytest.raises(SlackApiError) as raised:
        await web.api_call("oauth.v2.access", data={**fields, "code": ""})
    assert raised.value.response["error"] == "invalid_code"


def test_runs_in_a_thread_for_benchmarks() -> None:
    async def post(url: str) -> str:
        async with aiohttp.ClientSession() as session:
            web = AsyncWebClient(token="xoxb-1", base_url=url, session=session, retry_handlers=[])
            return (await web.chat_postMessage(channel="C1", text="x"))["ts"]

    with FakeSlack() as slack:
        ts = asyncio.run(post(slack.url))
        assert slack.last("chat.postMessage").response["ts"] == ts


def test_runs_as_a_process() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.slack_api", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/")

        async def exercise() -> dict:
            async with aiohttp.ClientSession() as session:
                script = {"method": "chat.update", "error": "message_not_found"}
                async with session.post(url.replace("/api/", "/_fake/error"), json=script):
                    pass
                web = AsyncWebClient(token="xoxb-1", base_url=url, session=session, retry_handlers=[])
                await web.chat_postMessage(channel="C1", text="x")
                with pytest.raises(SlackApiError):
                    await web.chat_update(channel="C1", ts="1.1", text="y")
                async with session.get(url.replace("/api/", "/_fake/calls")) as r:
                    return await r.json()

        calls = asyncio.run(exercise())
        answered = [(c["method"], c["response"]["ok"]) for c in calls["calls"]]
        assert answered == [("chat.postMessage", True), ("chat.update", False)]
        assert calls["calls"][0]["at"] <= time.monotonic()  # one monotonic clock across processes
    finally:
        proc.terminate()
        proc.stdout.close()  # type: ignore[union-attr]
        assert proc.wait(10) == 0


# ---------------------------------------------------------------------------- signing


def test_signature_is_accepted_by_slack_sdk_verifier() -> None:
    body, content_type = interactivity(block_actions("T1", "U1", "resolve", "A-17", "C1", "1700000000.000100"))
    headers = sign(SECRET, body)

    assert content_type == headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)


def test_changed_body_or_wrong_secret_is_rejected() -> None:
    body, _ = slash_command(team_id="T1", user_id="U1", text="resolve 17 called back")
    headers = sign(SECRET, body)
    verifier = SignatureVerifier(SECRET)

    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body.replace(b"17", b"18"), headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)


def test_stale_timestamp_is_rejected() -> None:
    body, _ = event(thread_reply_event("T1", "C1", "U1", "resolved: called", "1700000000.000100"))
    old = int(time.time()) - 310
    headers = sign(SECRET, body, timestamp=old)
    verifier = SignatureVerifier(SECRET)

    assert not verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])

    class Then:
        def now(self) -> float:
            return float(old)

    assert SignatureVerifier(SECRET, clock=Then()).is_valid_request(body, headers)  # only the age was wrong


def test_bodies_are_shaped_as_slack_sends_them() -> None:
    submitted = view_submission("T1", "U1", "status_modal", '{"alert": 17}', {"note": {"note_input": "Called back"}})
    body, _ = interactivity(submitted)
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "view_submission" and payload["view"]["callback_id"] == "status_modal"
    note = payload["view"]["state"]["values"]["note"]["note_input"]
    assert note == {"type": "plain_text_input", "value": "Called back"}

    fields = {k: v[0] for k, v in parse_qs(slash_command(team_id="T1", text="alerts open")[0].decode()).items()}
    assert (fields["command"], fields["text"], fields["team_id"]) == ("/cx", "alerts open", "T1")

    wrapped = json.loads(event({"type": "app_mention", "text": "hi"}, team_id="T9", event_id="Ev1")[0])
    assert (wrapped["type"], wrapped["team_id"], wrapped["event_id"]) == ("event_callback", "T9", "Ev1")
    assert wrapped["authorizations"][0]["team_id"] == "T9"

    reply = thread_reply_event("T1", "C1", "U1", "løst, ringet op", "1700000000.000100", "1700000001.000200")["event"]
    assert (reply["type"], reply["thread_ts"], reply["ts"]) == ("message", "1700000000.000100", "1700000001.000200")
    assert "subtype" not in reply
    assert app_uninstalled_event("T1")["event"] == {"type": "app_uninstalled"}
    assert tokens_revoked_event("T1", ["UBOT"])["event"]["tokens"] == {"oauth": [], "bot": ["UBOT"]}
    assert json.loads(url_verification("abc")[0])["challenge"] == "abc"

    body, headers = signed(SECRET, event(app_uninstalled_event("T1")), retry_num=1)
    assert headers["Content-Type"] == "application/json" and headers["X-Slack-Retry-Num"] == "1"
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)


async def test_bolt_accepts_the_signed_payloads_and_calls_the_fake(slack: FakeSlack) -> None:
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.request.async_request import AsyncBoltRequest

    slack.tokens = {"xoxb-1": "T1"}
    app = AsyncApp(signing_secret=SECRET, client=client(slack))
    heard: list[tuple[str, str | None, str | None]] = []

    @app.action("open_status")
    async def open_status(ack, body, client) -> None:  # type: ignore[no-untyped-def]
        await ack()
        modal = {"type": "modal", "callback_id": "m", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
        await client.views_open(trigger_id=body["trigger_id"], view=modal)

    @app.event("message")
    async def on_message(event, context) -> None:  # type: ignore[no-untyped-def]
        heard.append((event["text"], context.team_id, context.user_id))

    async def post(built: tuple[bytes, str], timestamp: int | None = None) -> int:
        body, headers = signed(SECRET, built, timestamp)
        return (await app.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=headers))).status

    click = interactivity(block_actions("T1", "U1", "open_status", "17", "C1", "1700000000.000100", "trig-1"))
    assert await post(click) == 200
    assert (await slack.wait_for("views.open"))[0].body["trigger_id"] == "trig-1"
    assert await post(click, timestamp=int(time.time()) - 310) == 401
    assert await post(event(thread_reply_event("T1", "C1", "U1", "resolved: called", "1700000000.000100"))) == 200
    for _ in range(200):  # event listeners run after the ack
        if heard:
            break
        await asyncio.sleep(0.01)
    assert heard == [("resolved: called", "T1", "U1")]
