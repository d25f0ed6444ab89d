"""The outside world inboxbot talks to: the IMAP mailbox, the mail archive on disk, OAuth2 sign-in, file locks."""
