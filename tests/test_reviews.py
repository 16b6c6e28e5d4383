"""Public reviews ("CarAdvisor", seed 002): answers whose customer allowed it are held for the
dealer's public reply, posted to its channel with Reply publicly / Approve, published after the
hold period or at the dealer's reply or approval, and served to the dealer's website without a key."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bot.domain.errors import InvalidTransition
from bot.domain.outbound import Action
from bot.domain.reviews import ReviewPolicy, public_name
from bot.domain.rules import Rules
from bot.jobs import Jobs
from bot.services import Context, dealers, reviews
from handlers.dealer_file import parse_toml
from notifications.slack import ids
from storage.database import Database
from tests.conftest import example_directory, response
from tests.fakes.clock import FrozenClock
from tests.fakes.slack_payloads import view_submission
from tests.fakes.slack_signing import interactivity
from tests.slack_support import (
    BRANDT,
    CAMILLA,
    JONAS,
    METTE,
    NOBODY,
    SABINE,
    VEST,
    VEST_CHANNEL,
    click,
    interpreted_strings,
    outbox,
    plain_of,
)

HOLD_HOURS = 72


@pytest.fixture
async def cx(db_url: str, clock: FrozenClock, rules: Rules) -> AsyncIterator[Context]:
    """The shared context with reviews switched on for the example dealers' brand (Mazda)."""
    db = Database(db_url)
    yield Context(db=db, rules=rules, clock=clock, reviews=ReviewPolicy.of(["mazda"], HOLD_HOURS))
    await db.close()


def consenting(id_: str = "r-1", **over: Any) -> dict[str, Any]:
    """A happy customer who allowed the answer to be published."""
    body: dict[str, Any] = {
        "survey": "service",
        "nps": 9,
        "scores": {"overall": 5},
        "comment": "Hurtig service og venligt personale.",
        "publish_consent": True,
    }
    body.update(over)
    return response(id_, **body)


async def post(client: Any, *bodies: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/api/v1/responses", {"responses": list(bodies)})
    assert r.status_code == 202, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def all_reviews(cx: Context) -> list[Any]:
    async with cx.db.read() as tx:
        return sorted(await tx.reviews.find(None, None, 1000), key=lambda v: v.id)


async def public(client: Any, dealer: str = "DK-1001", **params: Any) -> Any:
    """The public feed, asked without any key."""
    return await client.get("/api/v1/reviews", key=None, params={"dealer_id": dealer, **params})


def review_posts(slack: Any) -> list[Any]:
    return [c for c in slack.calls_to("chat.postMessage") if "Review RV-" in c.body.get("text", "")]


def buttons(body: dict[str, Any]) -> dict[str, str]:
    """action_id → value of the message's buttons."""
    return {e["action_id"]: e["value"] for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]}


async def posted_review(bot: Any, id_: str = "r-1", **over: Any) -> tuple[int, str]:
    """A review posted to the dealer's channel: (review id, the message's ts)."""
    await post(bot, consenting(id_, **over))
    await bot.deliver()
    (msg,) = [c for c in review_posts(bot.slack_api) if c.ok]
    return int(buttons(msg.body)[ids.REVIEW_REPLY]), str(msg.response["ts"])


async def open_modal(bot: Any, review_id: int, ts: str, user: str = METTE, team: str = VEST) -> dict[str, Any]:
    before = len(bot.slack_api.calls_to("views.open"))
    r = await bot.slack_request(click(bot, team, user, ids.REVIEW_REPLY, str(review_id), ts))
    assert r.status_code == 200
    opened = await bot.slack_api.wait_for("views.open", before + 1)
    view: dict[str, Any] = opened[-1].body["view"]
    assert view["callback_id"] == ids.REVIEW_MODAL
    return view


async def submit(bot: Any, metadata: str, text: str | None, user: str = METTE, team: str = VEST) -> Any:
    payload = view_submission(team, user, ids.REVIEW_MODAL, metadata, {ids.REVIEW_REPLY_BLOCK: {ids.REVIEW_REPLY_INPUT: text}})
    r = await bot.slack_request(interactivity(payload))
    assert r.status_code == 200
    return r


def acked(r: Any) -> bool:
    return r.content in (b"", b"{}") or r.json() == {}


async def state(cx: Context) -> tuple[Any, ...]:
    """Everything a refused request must leave alone: the reviews and the outbox."""
    async with cx.db.read() as tx:
        rows = await tx.outbox.listing(None, 1000)
    return tuple(await all_reviews(cx)), tuple(sorted((r.id, r.status, r.action) for r in rows))


# ---- which answers become reviews ----------------------------------------------------------------


async def test_consented_answer_is_held_and_posted_to_the_dealer_channel_with_reply_and_approve(bot, clock):
    answer = await post(bot, consenting())
    assert answer["alerts"] == []  # a happy customer raises no alert; the review is its own thing
    (v,) = await all_reviews(bot.cx)
    assert (v.ref, v.dealer, v.state, v.author) == ("RV-1", "DK-1001", "held", "Anne S.")
    assert v.publish_at == clock.now() + timedelta(hours=HOLD_HOURS)
    await bot.deliver()
    (msg,) = review_posts(bot.slack_api)
    # Without a reviews channel of its own, the dealer's reviews go where its Hot Alerts go.
    assert msg.body["channel"] == VEST_CHANNEL
    assert buttons(msg.body) == {ids.REVIEW_REPLY: "1", ids.REVIEW_APPROVE: "1"}
    shown = " ".join(plain_of(msg.body["blocks"]))
    assert "Hurtig service og venligt personale." in shown and "Shown as: Anne S." in shown
    assert "Sørensen" not in json.dumps(msg.body, ensure_ascii=False)  # the message shows the public name only
    assert "Not public yet" in json.dumps(msg.body["blocks"])
    # Held: nothing is public yet.
    r = await public(bot)
    assert r.status_code == 200 and r.json()["items"] == []
    assert await bot.deliver() == 0


async def test_without_consent_an_answer_is_never_a_review_nor_public(bot, clock):
    await post(bot, consenting("r-1", publish_consent=False), consenting("r-2", publish_consent=False, nps=10))
    assert await all_reviews(bot.cx) == []
    clock.advance(hours=HOLD_HOURS * 10)
    assert await reviews.publish_due(bot.cx) == 0
    await bot.deliver()
    assert review_posts(bot.slack_api) == []
    assert (await public(bot)).json()["items"] == []


async def test_lost_sales_answers_and_answers_with_nothing_to_show_are_not_reviews(bot):
    await post(
        bot,
        consenting("r-ls", survey="lost_sales", answers={"still_considering": False}),
        consenting("r-empty", nps=None, scores={}, comment="   "),
    )
    assert await all_reviews(bot.cx) == []


async def test_a_brand_without_reviews_gets_none(db_url, clock, rules, slack):
    from tests.conftest import running, slack_settings

    db = Database(db_url)
    cx = Context(db=db, rules=rules, clock=clock, reviews=ReviewPolicy.of(["Volkswagen"], HOLD_HOURS))
    try:
        await dealers.load(cx, example_directory())
        async with running(slack_settings(db_url, api_url=slack.url), cx, slack) as bot:
            await post(bot, consenting())
            assert await all_reviews(cx) == []
            await bot.deliver()
            assert review_posts(slack) == []
            r = await public(bot)
            assert r.status_code == 404 and "DK-1001" in r.json()["error"]
    finally:
        await db.close()


async def test_a_dealers_reviews_channel_from_the_dealer_file_gets_the_reviews(bot):
    text = _example_toml().replace('slack_team = "T0AUTOVEST"\n', 'slack_team = "T0AUTOVEST"\nreviews_channel = "C0VESTREVIEW"\n', 1)
    report = await dealers.load(bot.cx, parse_toml(text))
    assert report.changed == ["dealer DK-1001: reviews_team None → T0AUTOVEST, reviews_channel None → C0VESTREVIEW"]
    assert (await dealers.load(bot.cx, parse_toml(text))).nothing_changed
    await post(bot, consenting())
    await bot.deliver()
    (msg,) = review_posts(bot.slack_api)
    assert msg.body["channel"] == "C0VESTREVIEW"


def _example_toml() -> str:
    from importlib import resources

    return resources.files("bot").joinpath("examples/dealers.toml").read_text(encoding="utf-8")


def test_a_wrong_reviews_channel_in_the_dealer_file_is_named():
    from bot.domain.errors import InvalidInput

    text = _example_toml().replace('slack_team = "T0AUTOVEST"\n', 'slack_team = "T0AUTOVEST"\nreviews_channel = "#reviews"\n', 1)
    with pytest.raises(InvalidInput) as e:
        parse_toml(text)
    assert e.value.problems[0].field == "dealers.0.reviews_channel"
    assert "'#reviews' is not a Slack id" in e.value.problems[0].message


async def test_a_batch_of_answers_stores_its_reviews_with_one_insert(api, example_dealers, cx):
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO REVIEWS"):
            statements.append(statement)

    event.listen(cx.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await post(api, *[consenting(f"r-{n}", customer={"id": f"K-{n}", "name": f"Kunde {n} Test"}) for n in range(25)], consenting("r-no", publish_consent=False))
    finally:
        event.remove(cx.db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(await all_reviews(cx)) == 25
    assert len(statements) == 1


async def test_a_rejected_batch_makes_no_review_and_a_resent_answer_no_second_one(api, example_dealers, cx):
    bad = consenting("r-bad", nps=11)
    r = await api.post("/api/v1/responses", {"responses": [consenting("r-1"), bad]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "nps"
    assert await all_reviews(cx) == []
    await post(api, consenting("r-1"))
    r = await api.post("/api/v1/responses", consenting("r-1"))
    assert r.status_code == 200 and r.json()["duplicates"] == 1
    assert [v.ref for v in await all_reviews(cx)] == ["RV-1"]


# ---- publication --------------------------------------------------------------------------------


async def test_a_held_review_is_published_when_the_hold_period_ends_and_its_message_says_so(bot, clock):
    review_id, ts = await posted_review(bot)
    clock.advance(hours=HOLD_HOURS - 1)
    assert await reviews.publish_due(bot.cx) == 0
    assert (await public(bot)).json()["items"] == []
    clock.advance(hours=1)
    assert await reviews.publish_due(bot.cx) == 1
    assert await reviews.publish_due(bot.cx) == 0  # once
    (v,) = await all_reviews(bot.cx)
    assert (v.state, v.published_at, v.published_by, v.reply) == ("published", clock.now(), "system", None)
    await bot.deliver()
    update = bot.slack_api.last("chat.update")
    assert update.body["ts"] == ts and update.body["channel"] == VEST_CHANNEL
    text = json.dumps(update.body["blocks"], ensure_ascii=False)
    assert "Published" in text and "after the hold period" in text
    assert buttons(update.body) == {ids.REVIEW_REPLY: str(review_id)}  # nothing left to approve; a reply may follow
    body = (await public(bot)).json()
    (item,) = body["items"]
    assert item == {
        "id": review_id,
        "survey": "service",
        "nps": 9,
        "scores": {"overall": 5},
        "comment": "Hurtig service og venligt personale.",
        "author": "Anne S.",
        "submitted_on": "2026-11-01",
        "published_at": "2026-11-05T09:00:00Z",
        "reply": None,
    }
    assert body["summary"] == {"service": {"reviews": 1, "average_nps": 9.0}}


async def test_the_scheduled_job_publishes_due_reviews(api, example_dealers, cx, clock):
    await post(api, consenting())
    clock.advance(hours=HOLD_HOURS)
    await Jobs(cx, 60).publish_reviews()
    (v,) = await all_reviews(cx)
    assert v.state == "published"


async def test_replicas_publishing_at_once_publish_each_review_once(api, example_dealers, cx, db_url, clock):
    await post(api, *[consenting(f"r-{n}", customer={"id": f"K-{n}"}) for n in range(30)])
    clock.advance(hours=HOLD_HOURS)
    other = Database(db_url)
    try:
        replica = dataclasses.replace(cx, db=other)
        counts = await asyncio.gather(reviews.publish_due(cx, batch=7), reviews.publish_due(replica, batch=7))
    finally:
        await other.close()
    assert sum(counts) == 30
    async with cx.db.read() as tx:
        refreshes = [r for r in await tx.outbox.listing(None, 1000) if r.action == Action.SLACK_REVIEW_REFRESH]
    assert len(refreshes) == 30


# ---- replying and approving in Slack --------------------------------------------------------------


async def test_replying_in_slack_publishes_the_review_with_the_reply_beside_the_comment(bot, clock):
    review_id, ts = await posted_review(bot)
    view = await open_modal(bot, review_id, ts)
    assert "Hurtig service" in " ".join(plain_of(view["blocks"]))
    clock.advance(hours=2)
    r = await submit(bot, view["private_metadata"], "  Tak for de pæne ord, Anne – vi ses til næste service!  ")
    assert acked(r)
    (v,) = await all_reviews(bot.cx)
    assert (v.state, v.published_at, v.reply) == ("published", clock.now(), "Tak for de pæne ord, Anne – vi ses til næste service!")
    assert v.replied_by == v.published_by == f"slack:{VEST}/{METTE}"
    await bot.deliver()
    update = bot.slack_api.last("chat.update")
    assert update.body["ts"] == ts
    assert "Tak for de pæne ord, Anne – vi ses til næste service!" in plain_of(update.body["blocks"])
    assert f"<@{METTE}>" in json.dumps(update.body["blocks"])
    assert buttons(update.body) == {ids.REVIEW_REPLY: str(review_id)}
    (item,) = (await public(bot)).json()["items"]
    assert item["comment"] == "Hurtig service og venligt personale."
    assert item["reply"] == {"text": "Tak for de pæne ord, Anne – vi ses til næste service!", "replied_at": "2026-11-02T11:00:00Z"}
    # Later, when the hold period would have ended, nothing changes.
    clock.advance(hours=HOLD_HOURS)
    assert await reviews.publish_due(bot.cx) == 0


async def test_a_published_reply_can_be_edited_and_the_modal_offers_the_old_text(bot):
    review_id, ts = await posted_review(bot)
    view = await open_modal(bot, review_id, ts)
    assert acked(await submit(bot, view["private_metadata"], "Tak!"))
    await bot.deliver()
    view = await open_modal(bot, review_id, ts, user=JONAS)
    reply_input = next(b for b in view["blocks"] if b.get("block_id") == ids.REVIEW_REPLY_BLOCK)["element"]
    assert reply_input["initial_value"] == "Tak!"
    assert acked(await submit(bot, view["private_metadata"], "Tak for besøget!", user=JONAS))
    (v,) = await all_reviews(bot.cx)
    assert v.reply == "Tak for besøget!" and v.published_by == f"slack:{VEST}/{METTE}"
    assert (await public(bot)).json()["items"][0]["reply"]["text"] == "Tak for besøget!"


async def test_approving_in_slack_publishes_at_once_without_a_reply(bot, clock):
    review_id, ts = await posted_review(bot)
    r = await bot.slack_request(click(bot, VEST, METTE, ids.REVIEW_APPROVE, str(review_id), ts))
    assert r.status_code == 200
    (v,) = await all_reviews(bot.cx)
    assert (v.state, v.published_at, v.published_by, v.reply) == ("published", clock.now(), f"slack:{VEST}/{METTE}", None)
    await bot.deliver()
    update = bot.slack_api.last("chat.update")
    assert update.body["ts"] == ts and f"approved by <@{METTE}>" in json.dumps(update.body["blocks"])
    (item,) = (await public(bot)).json()["items"]
    assert item["reply"] is None
    # A second click is refused: it is public already.
    before = await state(bot.cx)
    await bot.slack_request(click(bot, VEST, JONAS, ids.REVIEW_APPROVE, str(review_id), ts))
    (answer,) = await bot.slack_api.wait_for("response_url")
    assert answer.body["text"] == "RV-1 is already published. Nothing changed."
    assert await state(bot.cx) == before


@pytest.mark.parametrize(("team", "user"), [(BRANDT, SABINE), (VEST, NOBODY), (BRANDT, CAMILLA)])
async def test_someone_not_granted_to_the_dealer_can_neither_reply_nor_approve(bot, team, user):
    review_id, ts = await posted_review(bot)
    before = await state(bot.cx)
    await bot.slack_request(click(bot, team, user, ids.REVIEW_APPROVE, str(review_id), ts))
    await bot.slack_request(click(bot, team, user, ids.REVIEW_REPLY, str(review_id), ts))
    answers = await bot.slack_api.wait_for("response_url", 2)
    for a in answers:
        assert a.body["response_type"] == "ephemeral"
        assert a.body["text"] == "Not allowed: there is no review RV-1 that you may act on. Nothing changed."
        assert "Anne" not in a.body["text"]
    assert bot.slack_api.calls_to("views.open") == []
    # A forged submission (the modal's metadata is never trusted) is refused on the form.
    r = await submit(bot, json.dumps({"review": review_id}), "Wir danken!", user=user, team=team)
    assert r.json()["response_action"] == "errors"
    assert "no review RV-1" in r.json()["errors"][ids.REVIEW_REPLY_BLOCK]
    assert await state(bot.cx) == before
    assert await bot.deliver() == 0


async def test_an_empty_or_too_long_reply_is_refused_on_the_form_and_changes_nothing(bot):
    review_id, ts = await posted_review(bot)
    view = await open_modal(bot, review_id, ts)
    before = await state(bot.cx)
    for text, words in (("   ", "The reply is empty"), ("x" * 2001, "The reply is 2001 characters long; at most 2000")):
        r = await submit(bot, view["private_metadata"], text)
        assert r.json()["response_action"] == "errors"
        assert r.json()["errors"][ids.REVIEW_REPLY_BLOCK].startswith(words)
    assert await state(bot.cx) == before


async def test_a_repeated_submission_is_applied_once(bot, clock):
    review_id, ts = await posted_review(bot)
    view = await open_modal(bot, review_id, ts)
    payload = view_submission(VEST, METTE, ids.REVIEW_MODAL, view["private_metadata"], {ids.REVIEW_REPLY_BLOCK: {ids.REVIEW_REPLY_INPUT: "Tak!"}})
    assert acked(await bot.slack_request(interactivity(payload)))
    clock.advance(minutes=1)
    assert acked(await bot.slack_request(interactivity(payload)))  # Slack's retry of the same submission
    (v,) = await all_reviews(bot.cx)
    assert v.replied_at == clock.now() - timedelta(minutes=1)
    assert len([r for r in await outbox(bot) if r.action == Action.SLACK_REVIEW_REFRESH]) == 1


async def test_a_reply_made_before_the_message_went_out_is_in_it_and_in_its_update(bot):
    await post(bot, consenting())
    await reviews.reply(bot.cx, "RV-1", reviews_operator(), "Tak, Anne!")
    await bot.deliver()
    (msg,) = review_posts(bot.slack_api)
    assert "Tak, Anne!" in plain_of(msg.body["blocks"])
    assert bot.slack_api.last("chat.update").body["ts"] == msg.response["ts"]


def reviews_operator() -> Any:
    from bot.domain.values import Actor, Channel

    return Actor(Channel.CLI, "mette")


# ---- customer text and privacy ----------------------------------------------------------------------


async def test_customer_and_reply_text_cannot_format_ping_or_link_in_slack(bot):
    evil = "<!channel> *gratis* <https://evil.example|klik> @here `kode`"
    review_id, ts = await posted_review(bot, comment=evil, customer={"id": "K-1", "name": "<@U0EVIL99> *Bo*"})
    view = await open_modal(bot, review_id, ts)
    assert acked(await submit(bot, view["private_metadata"], "Tak <!everyone> *fed* <https://x.example|her>"))
    await bot.deliver()
    for body in (review_posts(bot.slack_api)[0].body, bot.slack_api.last("chat.update").body, view):
        for s in interpreted_strings(body):
            assert "<!channel>" not in s and "<!everyone>" not in s and "evil.example" not in s and "<@U0EVIL99>" not in s
    assert evil in " ".join(plain_of(bot.slack_api.last("chat.update").body["blocks"]))


async def test_anonymous_customers_show_no_name_anywhere_public(bot):
    await post(bot, consenting("r-1", anonymous=True), consenting("r-2", customer={"id": "K-2", "name": "Bo"}, contact={"name": "Cindy Holm Larsen"}))
    await bot.deliver()
    first, second = review_posts(bot.slack_api)
    assert "Shown as: Anonymous (no name)" in plain_of(first.body["blocks"])[1]
    await reviews.approve(bot.cx, "RV-1", reviews_operator())
    await reviews.approve(bot.cx, "RV-2", reviews_operator())
    items = {i["id"]: i for i in (await public(bot)).json()["items"]}
    assert items[1]["author"] is None
    assert items[2]["author"] == "Cindy L."  # the person who answered, not the customer record
    # An answer that anonymizes the customer later reaches the published review too.
    await post(bot, consenting("r-3", customer={"id": "K-2"}, anonymous=True, publish_consent=False))
    items = {i["id"]: i for i in (await public(bot)).json()["items"]}
    assert items[2]["author"] is None


def test_the_public_name_is_first_name_and_initial():
    assert public_name("Anne Marie Sørensen") == "Anne S."
    assert public_name("  Bo  ") == "Bo"
    assert public_name("") is None and public_name(None) is None


# ---- the public API -------------------------------------------------------------------------------


async def test_the_public_feed_needs_no_key_and_shows_nothing_but_the_review(api, example_dealers, cx, clock):
    await post(api, consenting("resp-secret-77", customer={"id": "CUST-4711", "name": "Anne Sørensen", "email": "anne@example.net", "phones": {"mobile": "+4512345678"}}, service_date="2026-10-30"))
    await reviews.approve(cx, "RV-1", reviews_operator())
    r = await api.client.get("/api/v1/reviews", params={"dealer_id": "DK-1001"})  # no Authorization at all
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=300"
    assert r.headers["access-control-allow-origin"] == "*"
    raw = r.text
    for secret in ("resp-secret-77", "CUST-4711", "Sørensen", "anne@example.net", "4512345678", "2026-10-30", "cli:", "mette"):
        assert secret not in raw
    body = r.json()
    assert (body["dealer_id"], body["dealer_name"], len(body["items"])) == ("DK-1001", "Autohuset Vest", 1)


async def test_the_public_feed_never_shows_held_or_other_dealers_reviews(api, example_dealers, cx, clock):
    await post(
        api,
        consenting("r-1"),
        consenting("r-2", customer={"id": "K-2"}),
        consenting("r-de", dealer_id="DE-2001", customer={"id": "K-9", "name": "Jürgen Weiß"}),
    )
    await reviews.approve(cx, "RV-1", reviews_operator())
    await reviews.approve(cx, "RV-3", reviews_operator())
    assert [i["id"] for i in (await public(api)).json()["items"]] == [1]
    assert [i["id"] for i in (await public(api, "DE-2001")).json()["items"]] == [3]
    r = await public(api, "DK-9999")
    assert r.status_code == 404 and r.json() == {"error": "no public reviews for dealer 'DK-9999'"}
    r = await api.client.get("/api/v1/reviews")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "dealer_id"


async def test_the_public_feed_pages_newest_first(api, example_dealers, cx, clock):
    await post(api, *[consenting(f"r-{n}", customer={"id": f"K-{n}"}, nps=n) for n in range(5)])
    for n in range(1, 6):
        clock.advance(minutes=1)
        await reviews.approve(cx, f"RV-{n}", reviews_operator())
    seen: list[int] = []
    cursor = None
    for _ in range(3):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await public(api, **params)).json()
        seen += [i["id"] for i in body["items"]]
        assert ("summary" in body) is (cursor is None)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1] and cursor is None
    first = (await public(api)).json()
    assert first["summary"] == {"service": {"reviews": 5, "average_nps": 2.0}}
    for bad in ({"limit": 0}, {"limit": 101}, {"cursor": "not-a-cursor"}):
        r = await public(api, **bad)
        assert r.status_code == 422, bad


async def test_a_withdrawn_review_leaves_the_public_feed_and_its_message_says_so(bot):
    """What erasure asks of reviews: withdrawn for good, the reply (which may name the customer) gone."""
    review_id, ts = await posted_review(bot)
    await reviews.reply(bot.cx, review_id, reviews_operator(), "Tak, Anne!")
    assert len((await public(bot)).json()["items"]) == 1
    async with bot.cx.db.transaction() as tx:
        out = await reviews.forget_customer(tx, bot.cx.channels, "DK-1001", "K-1", bot.cx.clock.now())
        await tx.outbox.enqueue(out, bot.cx.clock.now())
    assert (await public(bot)).json()["items"] == []
    (v,) = await all_reviews(bot.cx)
    assert (v.state, v.reply) == ("withdrawn", None)
    await bot.deliver()
    update = bot.slack_api.last("chat.update")
    assert update.body["ts"] == ts and "Withdrawn" in json.dumps(update.body["blocks"])
    assert "Tak, Anne!" not in json.dumps(update.body, ensure_ascii=False)
    assert buttons(update.body) == {}
    with pytest.raises(InvalidTransition, match="RV-1 was withdrawn"):
        await reviews.reply(bot.cx, review_id, reviews_operator(), "Tak igen")


# ---- settings -------------------------------------------------------------------------------------


def test_reviews_settings_come_from_the_environment(monkeypatch):
    from bot.settings import SettingsError, load_settings

    monkeypatch.setenv("CXBOT_REVIEWS_BRANDS", " Volkswagen, Mazda ,")
    monkeypatch.setenv("CXBOT_REVIEWS_HOLD_HOURS", "48")
    s = load_settings()
    assert s.reviews.policy() == ReviewPolicy(frozenset({"volkswagen", "mazda"}), timedelta(hours=48))
    assert s.reviews.policy().covers("MAZDA") and not s.reviews.policy().covers("Skoda") and not s.reviews.policy().covers(None)
    monkeypatch.setenv("CXBOT_REVIEWS_HOLD_HOURS", "-1")
    with pytest.raises(SettingsError) as e:
        load_settings()
    assert str(e.value).startswith("CXBOT_REVIEWS_HOLD_HOURS (or [reviews] hold_hours in CXBOT_CONFIG)")
    monkeypatch.delenv("CXBOT_REVIEWS_HOLD_HOURS")
    monkeypatch.delenv("CXBOT_REVIEWS_BRANDS")
    assert load_settings().reviews.policy() == ReviewPolicy(frozenset(), timedelta(hours=72))
