from inboxbot.cli.main import entry

raise SystemExit(entry())
