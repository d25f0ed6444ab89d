"""inboxbot: runs a training organisation's complaints procedure from its mailbox."""

__version__ = "0.1.0"
