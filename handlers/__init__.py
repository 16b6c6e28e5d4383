"""Inbound adapters: HTTP intake, Slack, email replies, files."""
