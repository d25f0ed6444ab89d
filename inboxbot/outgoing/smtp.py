"""Sending the outbox over SMTP: one connection a batch, each mail's fate reported as it is known.

Apart from composing (`outbox`) because only a cycle with mail to send needs the SMTP client:
an idle cycle, most of the daemon's, imports neither it nor its event loop's code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import aiosmtplib

from inboxbot.adapters.oauth import OAuthError, TokenSource
from inboxbot.adapters.tls import tls_context, tls_error_in, tls_failure
from inboxbot.config import SmtpSettings
from inboxbot.domain.cases import OutgoingMail
from inboxbot.outgoing.outbox import NO_SMTPUTF8, SendResult, mailbox, needs_smtputf8

log = logging.getLogger(__name__)


def smtp_client(settings: SmtpSettings) -> aiosmtplib.SMTP:
    """A client that logs in with the password when connecting; OAuth2 logs in with `smtp_login`."""
    s = settings
    password_login = s.auth == "password" and bool(s.username)
    return aiosmtplib.SMTP(
        hostname=s.host,
        port=s.port,
        use_tls=s.security == "tls",
        start_tls=True if s.security == "starttls" else False,
        timeout=s.timeout,
        username=s.username if password_login else None,
        password=s.password if password_login else None,
        tls_context=tls_context(s.ca_file) if s.security != "plain" else None,
    )


async def smtp_login(client: aiosmtplib.SMTP, settings: SmtpSettings, tokens: TokenSource | None) -> None:
    """AUTH XOAUTH2 on a connected client; a token refused before its expiry is refreshed once.

    aiosmtplib answers the server's error challenge (a base64 JSON, as Gmail sends) with the empty
    line XOAUTH2 expects, then raises SMTPAuthenticationError with the final 535.
    """
    if tokens is None:
        return
    user = settings.username or settings.from_address
    token = await asyncio.to_thread(tokens.access_token)
    try:
        await client.auth_xoauth2(user, token)
    except aiosmtplib.SMTPAuthenticationError as exc:
        log.info("SMTP refused the OAuth2 access token (%s %s); refreshing it and trying again", exc.code, exc.message)
        fresh = await asyncio.to_thread(tokens.refreshed_after_rejection, token)
        await client.auth_xoauth2(user, fresh)


class SmtpSender:
    """Sends a batch over one SMTP connection; reports each mail's fate, never raises for one."""

    def __init__(self, settings: SmtpSettings, tokens: TokenSource | None = None) -> None:
        self.settings = settings
        if tokens is None and settings.oauth2 is not None:
            tokens = TokenSource(settings.oauth2)
        self.tokens = tokens

    def _client(self) -> aiosmtplib.SMTP:
        return smtp_client(self.settings)

    def send(self, mails: Sequence[OutgoingMail], on_result: Callable[[SendResult], None]) -> None:
        """Send `mails`, calling `on_result` right after each one's fate is known.

        Recording each result at once keeps the window in which an accepted mail is not yet
        recorded as small as it can be: that window is the only way a mail can go out twice.
        """
        asyncio.run(self._send(mails, on_result))

    async def _send(self, mails: Sequence[OutgoingMail], on_result: Callable[[SendResult], None]) -> None:
        if not mails:
            return
        client = self._client()
        try:
            for index, mail in enumerate(mails):
                if not client.is_connected:
                    try:
                        await client.connect()
                        await smtp_login(client, self.settings, self.tokens)
                        if client.is_ehlo_or_helo_needed:
                            await client.ehlo()  # what it offers (SMTPUTF8) is known before the first mail
                    except (aiosmtplib.SMTPException, OSError, OAuthError) as exc:
                        if client.is_connected:
                            client.close()
                        where = f"SMTP {self.settings.host}:{self.settings.port}"
                        tls = tls_error_in(exc) if not isinstance(exc, OAuthError) else None
                        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
                            error = f"{where}: login refused for {self.settings.username}: {exc.code} {exc.message}"
                        elif isinstance(exc, OAuthError):
                            error = f"{where}: {exc}"
                        elif tls is not None:
                            error = f"cannot connect to {where}: TLS failed: {tls_failure(tls)}"
                        else:
                            error = f"cannot connect to {where}: {exc}"
                        for rest in mails[index:]:
                            on_result(SendResult(rest.id, False, False, error, unreachable=True))
                        return
                options: list[str] = []
                if needs_smtputf8(mail.sender, mail.recipient):
                    if not client.supports_extension("smtputf8"):
                        on_result(SendResult(mail.id, False, True, NO_SMTPUTF8))
                        continue
                    options = ["SMTPUTF8"]
                try:
                    await client.sendmail(mail.sender, [mailbox(mail.recipient)], mail.raw, mail_options=options)
                except ValueError as exc:
                    # UnsafeHeader, or aiosmtplib refusing to put the address on a command line
                    # (UnicodeEncodeError is one too): this mail can never leave; the others can.
                    on_result(SendResult(mail.id, False, True, f"address cannot be sent: {exc}"))
                    client.close()  # whatever the transaction's state, the next mail starts afresh
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    refusal = exc.recipients[0] if exc.recipients else None
                    code = refusal.code if refusal else 550
                    on_result(SendResult(mail.id, False, code >= 500, f"recipient refused: {exc}"))
                except aiosmtplib.SMTPResponseException as exc:
                    on_result(SendResult(mail.id, False, exc.code >= 500, f"{exc.code} {exc.message}"))
                except (aiosmtplib.SMTPException, OSError) as exc:
                    # The connection is gone: this mail waits for the next attempt.
                    on_result(SendResult(mail.id, False, False, f"connection lost: {exc}"))
                    client.close()
                except Exception as exc:  # noqa: BLE001 - one mail's failure must not hold up the others
                    log.exception("sending outgoing mail %s failed", mail.id)
                    on_result(SendResult(mail.id, False, False, f"{type(exc).__name__}: {exc}"))
                    client.close()
                else:
                    on_result(SendResult(mail.id, True, False, ""))
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
