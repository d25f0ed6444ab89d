"""Which addresses reach the same person, so that a bound on mail to one person cannot be sidestepped.

`Lea.Martin+1@gmail.com`, `leamartin+2@googlemail.com` and `lea.martin@gmail.com` are three
addresses and one mailbox: a stranger who wants a victim mailed many times on the organisation's
behalf only has to vary the spelling. The acknowledgement cap is therefore counted on a key that
folds these variants together: the address lower-cased, without a `+tag` (sub-addressing, which
Gmail, Microsoft 365, Fastmail, Proton and most hosts honour) and, at Gmail, without dots in the
local part and with googlemail.com read as gmail.com. The key is only ever compared, never mailed to.
"""

from __future__ import annotations

# Domains whose local parts ignore dots (Google's consumer mail; Workspace domains do not).
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox_key(address: str) -> str:
    """The one form every spelling of the mailbox `address` reaches shares."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or not local:
        return address.strip().lower()
    if not local.startswith('"'):  # a quoted local part is taken as it is written
        local = local.partition("+")[0] or local
    domain = domain.rstrip(".")
    if domain in _DOTLESS_DOMAINS:
        domain = _DOTLESS_DOMAINS[domain]
        local = local.replace(".", "") or local
    return f"{local}@{domain}"
