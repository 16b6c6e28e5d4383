"""`cxbot reviews …` as a user runs it (click's runner in this process, on SQLite and PostgreSQL):
list, reply, approve, publish-due; wrong input names what is wrong and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result

from bot.cli import main

DEALERS_TOML = str(resources.files("bot").joinpath("examples/dealers.toml"))
HEADER = "id,survey,dealer_id,submitted_at,customer.id,customer.name,nps,comment,publish_consent\n"


@pytest.fixture(autouse=True)
def _keep_log_config() -> Iterator[None]:
    """Each command configures structlog to write to the runner's stderr (see test_cli)."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def cli(db_url: str, *args: str, **env: str) -> Result:
    environment = {"CXBOT_DATABASE_URL": db_url, "CXBOT_REVIEWS_BRANDS": "Mazda", **env}
    return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)


def ok(db_url: str, *args: str, **env: str) -> Result:
    r = cli(db_url, *args, **env)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r


def listed(db_url: str, *filters: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ok(db_url, "reviews", "list", "--json", *filters).stdout.splitlines() if line.strip()]


def answers(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / f"answers-{len(list(tmp_path.iterdir()))}.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_a_review_from_import_to_reply_and_publication(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "dealers", "load", DEALERS_TOML)
    started = datetime.now(UTC)
    ok(
        db_url, "import", "responses",
        answers(tmp_path, "r-1,service,DK-1001,2026-11-01T10:00:00+01:00,K-1,Anne Sørensen,9,Fin service,true", "r-2,service,DK-1001,2026-11-01T11:00:00+01:00,K-2,Bo Berg,10,Super,false"),
    )
    (held,) = listed(db_url)
    assert (held["id"], held["state"], held["author"], held["comment"], held["reply"]) == ("RV-1", "held", "Anne S.", "Fin service", None)
    hold = datetime.fromisoformat(held["publish_at"]) - started
    assert timedelta(hours=71, minutes=59) < hold < timedelta(hours=72, minutes=1)
    assert "RV-1" in ok(db_url, "reviews", "list", "--state", "held").stdout
    assert ok(db_url, "reviews", "list", "--state", "published").stdout.strip() == "no reviews match"

    # Wrong input: one line naming what is wrong, exit 1, nothing changed.
    for args, message in (
        (("reply", "RV-1"), "cxbot: reply: is empty: write the reply the customer and the public will read"),
        (("reply", "RV-1", "--text", "   "), "cxbot: reply: is empty: write the reply the customer and the public will read"),
        (("reply", "RV-1", "--text", "x" * 2001), "cxbot: reply: is 2001 characters long; at most 2000"),
        (("approve", "RV-9"), "cxbot: Not allowed: there is no review RV-9 that you may act on."),
        (("approve", "HA-1"), "cxbot: review: 'HA-1' is not a review id like RV-12"),
    ):
        r = cli(db_url, "reviews", *args)
        assert r.exit_code == 1 and r.stderr.strip() == message, (args, r.stderr)
    assert listed(db_url) == [held]

    r = ok(db_url, "reviews", "reply", "rv-1", "--text", "Tak for besøget, Anne!")
    assert r.stdout.startswith("RV-1: replied; published ")
    (published,) = listed(db_url, "--state", "published")
    assert (published["reply"], published["replied_by"], published["published_by"]) == ("Tak for besøget, Anne!", published["replied_by"], published["replied_by"])
    assert published["replied_by"].startswith("cli:")
    r = cli(db_url, "reviews", "approve", "RV-1")
    assert r.exit_code == 1 and r.stderr.strip() == "cxbot: RV-1 is already published."


def test_publish_due_publishes_what_the_hold_period_released(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "dealers", "load", DEALERS_TOML)
    ok(db_url, "import", "responses", answers(tmp_path, "r-1,sales,DK-1001,2026-11-01T10:00:00+01:00,K-1,Anne Sørensen,8,God handel,true"))
    ok(
        db_url, "import", "responses",
        answers(tmp_path, "r-2,sales,DE-2001,2026-11-01T10:00:00+01:00,K-9,Jürgen Weiß,10,Alles gut,true"),
        CXBOT_REVIEWS_HOLD_HOURS="0",
    )
    assert ok(db_url, "reviews", "publish-due").stdout.strip() == "1 reviews published"
    assert ok(db_url, "reviews", "publish-due").stdout.strip() == "0 reviews published"
    assert [(v["id"], v["state"], v["published_by"]) for v in listed(db_url)] == [("RV-2", "published", "system"), ("RV-1", "held", None)]
    assert [v["id"] for v in listed(db_url, "--dealer", "DK-1001")] == ["RV-1"]
    ok(db_url, "reviews", "approve", "1")
    assert {v["state"] for v in listed(db_url)} == {"published"}


def test_without_the_brand_switched_on_no_review_is_made(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "dealers", "load", DEALERS_TOML)
    ok(db_url, "import", "responses", answers(tmp_path, "r-1,sales,DK-1001,2026-11-01T10:00:00+01:00,K-1,Anne Sørensen,8,God handel,true"), CXBOT_REVIEWS_BRANDS="Volkswagen")
    assert listed(db_url) == []
