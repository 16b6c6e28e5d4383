"""Email replies read over IMAP."""
