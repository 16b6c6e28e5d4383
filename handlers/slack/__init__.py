"""Slack requests: buttons, modals, thread replies, slash commands."""
