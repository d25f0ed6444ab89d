"""Reading a mail: bytes and text turned into plain values, with no I/O and no store."""
