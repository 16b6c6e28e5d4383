"""Mail fixtures: a real Dovecot IMAP server (one per session, a fresh user per test) and an aiosmtpd
SMTP server per test. ``tests/conftest.py`` imports them.

Without ``/usr/sbin/dovecot`` (Debian package ``dovecot-imapd``; ``.ci/run`` installs it) the IMAP
tests skip with the reason locally and fail under ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from tests.fakes.dovecot import DOVECOT_BINARY, Dovecot, MailUser
from tests.fakes.smtp import FakeSmtp, SmtpTls

__all__ = ["dovecot", "mailbox", "make_smtp", "smtp", "smtp_tls"]

_IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot for the whole session on 127.0.0.1 (a free port); stopped gracefully at the end."""
    binary = os.environ.get("TEST_DOVECOT_BINARY", DOVECOT_BINARY)  # not CXBOT_*: conftest clears those
    if not os.path.exists(binary):
        message = f"Dovecot is not installed ({binary} missing; apt-get install dovecot-imapd)"
        if _IN_CI:
            pytest.fail(message + "; under CI=true the IMAP tests must run", pytrace=False)
        pytest.skip(message)
    server = Dovecot.start(binary)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> MailUser:
    """A new IMAP user with an empty mailbox, for this test only."""
    return dovecot.new_user()


@pytest.fixture(scope="session")
def smtp_tls(tmp_path_factory: pytest.TempPathFactory) -> SmtpTls:
    """A throw-away CA (trustme) and a certificate for 127.0.0.1/localhost; ``smtp_tls.ca_pem`` is the
    CA's PEM file for the client to trust."""
    return SmtpTls(tmp_path_factory.mktemp("smtp-ca"))


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSmtp]:
    """A plain SMTP server (no AUTH, no TLS) on 127.0.0.1 on this test's loop."""
    async with FakeSmtp() as server:
        yield server


@pytest.fixture
async def make_smtp(smtp_tls: SmtpTls) -> AsyncIterator[Callable[..., Awaitable[FakeSmtp]]]:
    """``await make_smtp(username=..., password=..., tls="starttls" | "implicit", ...)``: a started
    FakeSmtp with those options (TLS with the session's ``smtp_tls`` CA), stopped after the test."""
    servers: list[FakeSmtp] = []

    async def make(**options: Any) -> FakeSmtp:
        options.setdefault("certs", smtp_tls)
        server = FakeSmtp(**options)
        servers.append(server)
        return await server.start()

    yield make
    for server in servers:
        await server.stop()
