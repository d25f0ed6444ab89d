"""TLS as inboxbot uses it for IMAP and SMTP: certificates verified as a browser does, failures in words.

Apart from the settings so that a command that only reads the register never imports `ssl`.
"""

from __future__ import annotations

import ssl
from pathlib import Path


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificates verified as by a browser, plus those of `ca_file` when given."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def tls_failure(exc: ssl.SSLError) -> str:
    """Why a TLS handshake failed, in the words a person can search for.

    A bad certificate is an `SSLCertVerificationError` whose `reason` is only
    CERTIFICATE_VERIFY_FAILED; its `verify_message` says which check failed ("unable to get
    local issuer certificate" for an unknown CA, "Hostname mismatch, ..." for the wrong name).
    """
    reason = str(exc.reason or exc)
    detail = getattr(exc, "verify_message", None)
    return f"{reason}: {detail}" if detail else reason


def tls_error_in(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind `exc`, if any: aiosmtplib wraps it in its own exceptions."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
