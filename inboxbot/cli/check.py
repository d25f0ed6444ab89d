"""`inboxbot check`: everything that can be wrong with a set-up, said plainly, before any mail moves.

Each check prints one line; the first failure stops with a non-zero exit, since later checks
(folders, say) mean nothing once an earlier one (the login) failed. The verdicts are French unless the
locale asks for English (`inboxbot.cli.language`); what a server or library said is quoted as it is.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable

import aiosmtplib

from inboxbot.adapters.imap import SENT, Mailbox, MailboxError
from inboxbot.adapters.oauth import OAuthError, TokenSource
from inboxbot.adapters.tls import tls_context, tls_error_in, tls_failure
from inboxbot.bootstrap import build_renderer, load_recognizer, load_rule_set
from inboxbot.cli.language import Wording
from inboxbot.config import Settings
from inboxbot.domain.rules import RuleError
from inboxbot.outgoing.smtp import smtp_login
from inboxbot.reading.recognition import RecognitionError
from inboxbot.store.repository import Store


class CheckFailed(Exception):
    pass


def _check_oauth2(settings: Settings, tokens: TokenSource, say: Callable[[str], None], w: Wording) -> None:
    """The token before the logins, so a refused sign-in is reported as that and not as a bad login."""
    try:
        tokens.access_token()
    except OAuthError as exc:
        raise CheckFailed(str(exc)) from exc
    saved = tokens.current()
    expires = f"{saved.expires_at:%Y-%m-%d %H:%M %Z}" if saved and saved.expires_at else ""
    until = w(f", jeton d'accès valable jusqu'au {expires}", f", access token valid until {expires}") if expires else ""
    provider, kept = tokens.settings.provider, tokens.settings.token_file
    say(
        w(
            f"oauth2 : la connexion {provider} fonctionne (jetons conservés dans {kept}){until}",
            f"oauth2: {provider} sign-in works (tokens kept in {kept}){until}",
        )
    )


def _check_smtp(settings: Settings, tokens: TokenSource | None = None, w: Wording | None = None) -> str:
    w = w or Wording()
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
            how = w(" avec OAuth2", " with OAuth2") if tokens is not None else ""
            login = w(", connecté en tant que ", ", logged in as ") + s.username + how if s.username else ""
            return w(f"{where} : connexion établie ({s.security}){login}", f"{where}: connected ({s.security}){login}")
        finally:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    return asyncio.run(probe())


def run_checks(settings: Settings, say: Callable[[str], None], w: Wording | None = None) -> int:
    w = w or Wording()
    try:
        source = settings.source or w("(intégrée)", "(built in)")
        say(w(f"configuration : {source} : valide", f"config: {source}: valid"))
        if settings.source is not None and os.name == "posix":
            mode = settings.source.stat().st_mode
            if mode & (stat.S_IRGRP | stat.S_IROTH):
                say(
                    w(
                        f"attention : {settings.source} est lisible par les autres utilisateurs ; il peut contenir "
                        "des mots de passe (chmod 600)",
                        f"warning: {settings.source} is readable by other users; it may hold passwords (chmod 600)",
                    )
                )
        try:
            rules = load_rule_set(settings)
        except RuleError as exc:
            raise CheckFailed(w(f"règles : {exc}", f"rules: {exc}")) from exc
        say(
            w(
                f"règles : {len(rules)} règle(s) dans {len(rules.files)} fichier(s)",
                f"rules: {len(rules)} rule(s) from {len(rules.files)} file(s)",
            )
        )
        if settings.imap.mode == "shared":
            try:
                recognizer = load_recognizer(settings)
            except RecognitionError as exc:
                raise CheckFailed(w(f"reconnaissance : {exc}", f"recognition: {exc}")) from exc
            learned = (
                w(
                    f", modèle appris : {len(recognizer.model.terms)} termes",
                    f", learned model: {len(recognizer.model.terms)} terms",
                )
                if recognizer.model is not None
                else w(", sans modèle appris", ", no learned model")
            )
            say(
                w(
                    f"reconnaissance : vocabulaire chargé{learned} (en mode partagé, chaque message humain est lu "
                    "pour y reconnaître réclamations et aléas)",
                    f"recognition: vocabulary loaded{learned} (shared mode reads every human mail for claims and"
                    " incidents)",
                )
            )
        from inboxbot.exports.report import check_templates as check_report_templates  # babel: only when asked

        try:
            build_renderer(settings)
            check_report_templates(settings)
        except Exception as exc:  # noqa: BLE001 - any Jinja2 error is a template problem to report
            raise CheckFailed(
                w(f"modèles : {type(exc).__name__} : {exc}", f"templates: {type(exc).__name__}: {exc}")
            ) from exc
        say(
            w(
                "modèles : tous les modèles de messages et du rapport se compilent",
                "templates: all mail and report templates compile",
            )
        )
        try:
            Store.open(settings.database.url).close()
        except Exception as exc:  # noqa: BLE001 - any driver error is a database problem to report
            raise CheckFailed(
                w(f"base de données : {type(exc).__name__} : {exc}", f"database: {type(exc).__name__}: {exc}")
            ) from exc
        where = settings.database.url.split("@")[-1]
        say(w(f"base de données : {where} : schéma à jour", f"database: {where}: schema up to date"))
        oauth2 = settings.imap.oauth2 or settings.smtp.oauth2
        tokens = TokenSource(oauth2) if oauth2 is not None else None
        if tokens is not None:
            _check_oauth2(settings, tokens, say, w)
        try:
            with Mailbox(settings.imap, tokens if settings.imap.oauth2 else None) as mailbox:
                imap = f"IMAP {settings.imap.host}:{settings.imap.port}"
                user = settings.imap.username
                say(w(f"{imap} : connecté en tant que {user}", f"{imap}: logged in as {user}"))
                folders = mailbox.watched_folders()
                for folder in folders:
                    say(
                        w(
                            f"  dossier surveillé {folder.name!r} ({folder.role})",
                            f"  watching {folder.name!r} ({folder.role})",
                        )
                    )
                sent = next((f.name for f in folders if f.role == SENT), None)
                if settings.imap.watch_sent and sent is None:
                    say(
                        w(
                            "attention : aucun dossier « Envoyés » trouvé (aucun marqué \\Sent par le serveur, aucun "
                            "au nom habituel) : les réponses de la directrice et la preuve de ses commandes ne sont "
                            "pas vues ; renseignez imap.sent_folder",
                            "warning: no Sent folder found (none flagged \\Sent by the server, none with a usual "
                            "name): the director's replies and her proof of commands are not seen; set "
                            "imap.sent_folder",
                        )
                    )
                if settings.imap.save_sent:
                    target = sent or mailbox.sent_folder()
                    if target is None:
                        raise CheckFailed(
                            w(
                                "imap.save_sent : aucun dossier « Envoyés » où ranger les copies ; renseignez "
                                "imap.sent_folder",
                                "imap.save_sent: no Sent folder to save copies to; set imap.sent_folder",
                            )
                        )
                    say(
                        w(
                            f"  les copies de ce qu'envoie inboxbot sont rangées dans {target!r} (imap.save_sent)",
                            f"  copies of what inboxbot sends are saved to {target!r} (imap.save_sent)",
                        )
                    )
        except MailboxError as exc:
            raise CheckFailed(str(exc)) from exc
        say(_check_smtp(settings, tokens if settings.smtp.oauth2 else None, w))
    except CheckFailed as exc:
        say(w(f"erreur : {exc}", f"error: {exc}"))
        return 1
    say(w("tout est en ordre", "all good"))
    return 0
