"""Outbound: the outbox dispatcher, renderers and senders for Slack and email."""
