"""The `inboxbot` command line: its commands, the daemon, check, init, sign-in and the demo."""
