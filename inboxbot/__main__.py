from inboxbot.cli.main import main

raise SystemExit(main())
