from inboxbot.cli import main

raise SystemExit(main())
