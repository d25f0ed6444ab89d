"""The procedure run over the mailbox: one mail, a folder's sync, follow-ups, the director's casework,
the digest, retention.
"""
