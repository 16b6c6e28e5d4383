"""Slack: ids shared with the handlers, pure Block Kit renderers, and the Web API sender."""
