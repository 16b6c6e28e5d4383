"""Structured logs (structlog): event names with key=value fields; never secrets or mail bodies."""

from __future__ import annotations

import logging
import sys

import structlog

# Loggers whose own level slack_sdk and slack_bolt test before formatting a debug line (see configure).
SLACK_LOGGERS = ("slack_bolt", "slack_sdk.web.async_base_client", "slack_sdk.web.base_client", "slack_sdk.web.async_slack_response")
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure(level: str = "info", fmt: str = "console") -> None:
    lvl = LEVELS[level]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries log through the standard library; keep them quiet unless something is wrong.
    logging.basicConfig(level=max(lvl, logging.WARNING), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "alembic"):
        logging.getLogger(name).setLevel(max(lvl, logging.WARNING))
    # slack_sdk and slack_bolt test `logger.level <= DEBUG` on these loggers' own level, which is 0
    # (unset) unless given, and then format a debug line of every request's whole payload that
    # nothing prints: a fifth of the CPU of a Slack message. An explicit level ends that.
    for name in SLACK_LOGGERS:
        logging.getLogger(name).setLevel(max(lvl, logging.INFO))

