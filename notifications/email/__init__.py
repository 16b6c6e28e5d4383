"""Email: pure renderers (Jinja2, autoescaped HTML and plain text, localized) and the SMTP sender."""
