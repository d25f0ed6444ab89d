"""What inboxbot writes to people: templates rendered, mails composed, the outbox and its drain."""
