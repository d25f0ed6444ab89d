"""`inboxbot check`: everything that can be wrong with a set-up, said plainly, before any mail moves.

Each check prints one line; the first failure stops with a non-zero exit, since later checks
(folders, say) mean nothing once an earlier one (the login) failed.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable

import aiosmtplib

from inboxbot.adapters.imap import SENT, Mailbox, MailboxError
from inboxbot.adapters.oauth import OAuthError, TokenSource
from inboxbot.bootstrap import build_renderer, load_rule_set
from inboxbot.config import Settings, tls_context, tls_error_in, tls_failure
from inboxbot.domain.rules import RuleError
from inboxbot.outgoing.outbox import smtp_login
from inboxbot.store.repository import Store


class CheckFailed(Exception):
    pass


def _check_oauth2(settings: Settings, tokens: TokenSource, say: Callable[[str], None]) -> None:
    """The token before the logins, so a refused sign-in is reported as that and not as a bad login."""
    try:
        tokens.access_token()
    except OAuthError as exc:
        raise CheckFailed(str(exc)) from exc
    saved = tokens.current()
    until = f", access token valid until {saved.expires_at:%Y-%m-%d %H:%M %Z}" if saved and saved.expires_at else ""
    say(f"oauth2: {tokens.settings.provider} sign-in works (tokens kept in {tokens.settings.token_file}){until}")


def _check_smtp(settings: Settings, tokens: TokenSource | None = None) -> str:
    s = settings.smtp
    where = f"SMTP {s.host}:{s.port}"

    async def probe() -> str:
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "tls",
            start_tls=True if s.security == "starttls" else False,
            timeout=s.timeout,
            tls_context=tls_context(s.ca_file) if s.security != "plain" else None,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            tls = tls_error_in(exc)
            if tls is not None:
                raise CheckFailed(f"{where}: TLS failed: {tls_failure(tls)}") from exc
            if s.security == "starttls" and "STARTTLS" in str(exc):
                raise CheckFailed(
                    f'{where}: the server does not offer STARTTLS (smtp.security = "starttls"); '
                    'not sending without TLS: try security = "tls" on port 465'
                ) from exc
            if isinstance(exc, (aiosmtplib.SMTPConnectError, OSError)):
                raise CheckFailed(f"{where}: cannot connect: {exc}") from exc
            raise CheckFailed(f"{where}: {exc}") from exc
        try:
            if s.username:
                try:
                    if tokens is not None:
                        await smtp_login(client, s, tokens)
                    else:
                        await client.login(s.username, s.password or "")
                except aiosmtplib.SMTPAuthenticationError as exc:
                    raise CheckFailed(f"{where}: login refused for {s.username}: {exc.message}") from exc
                except OAuthError as exc:
                    raise CheckFailed(f"{where}: {exc}") from exc
                except aiosmtplib.SMTPException as exc:
                    raise CheckFailed(f"{where}: cannot log in as {s.username}: {exc}") from exc
            how = " with OAuth2" if tokens is not None else ""
            return f"{where}: connected ({s.security}){', logged in as ' + s.username + how if s.username else ''}"
        finally:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    return asyncio.run(probe())


def run_checks(settings: Settings, say: Callable[[str], None]) -> int:
    try:
        say(f"config: {settings.source or '(built in)'}: valid")
        if settings.source is not None and os.name == "posix":
            mode = settings.source.stat().st_mode
            if mode & (stat.S_IRGRP | stat.S_IROTH):
                say(f"warning: {settings.source} is readable by other users; it may hold passwords (chmod 600)")
        try:
            rules = load_rule_set(settings)
        except RuleError as exc:
            raise CheckFailed(f"rules: {exc}") from exc
        say(f"rules: {len(rules)} rule(s) from {len(rules.files)} file(s)")
        from inboxbot.exports.report import check_templates as check_report_templates  # babel: only when asked

        try:
            build_renderer(settings)
            check_report_templates(settings)
        except Exception as exc:  # noqa: BLE001 - any Jinja2 error is a template problem to report
            raise CheckFailed(f"templates: {type(exc).__name__}: {exc}") from exc
        say("templates: all mail and report templates compile")
        try:
            Store.open(settings.database.url).close()
        except Exception as exc:  # noqa: BLE001 - any driver error is a database problem to report
            raise CheckFailed(f"database: {type(exc).__name__}: {exc}") from exc
        say(f"database: {settings.database.url.split('@')[-1]}: schema up to date")
        oauth2 = settings.imap.oauth2 or settings.smtp.oauth2
        tokens = TokenSource(oauth2) if oauth2 is not None else None
        if tokens is not None:
            _check_oauth2(settings, tokens, say)
        try:
            with Mailbox(settings.imap, tokens if settings.imap.oauth2 else None) as mailbox:
                say(f"IMAP {settings.imap.host}:{settings.imap.port}: logged in as {settings.imap.username}")
                folders = mailbox.watched_folders()
                for folder in folders:
                    say(f"  watching {folder.name!r} ({folder.role})")
                sent = next((f.name for f in folders if f.role == SENT), None)
                if settings.imap.watch_sent and sent is None:
                    say(
                        "warning: no Sent folder found (none flagged \\Sent by the server, none with a usual name): "
                        "the director's replies and her proof of commands are not seen; set imap.sent_folder"
                    )
                if settings.imap.save_sent:
                    target = sent or mailbox.sent_folder()
                    if target is None:
                        raise CheckFailed("imap.save_sent: no Sent folder to save copies to; set imap.sent_folder")
                    say(f"  copies of what inboxbot sends are saved to {target!r} (imap.save_sent)")
        except MailboxError as exc:
            raise CheckFailed(str(exc)) from exc
        say(_check_smtp(settings, tokens if settings.smtp.oauth2 else None))
    except CheckFailed as exc:
        say(f"error: {exc}")
        return 1
    say("all good")
    return 0
