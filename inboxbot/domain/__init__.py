"""The procedure's own words and decisions: cases, messages, deadlines, rules, the director's mail commands.

Pure: imports nothing of inboxbot outside this package and no I/O library (checked by import-linter in .ci/run)."""
