"""`inboxbot init`: a first config.toml from a handful of questions, then `inboxbot check`.

Every question has a flag, so a script (or a test) answers without a terminal; a question whose
flag is missing is asked on standard input, with its default in brackets. The file written holds
the comments of config.example.toml for the keys it sets, and is read back with the real loader
before anything else, so `init` never leaves a file that `run` would refuse.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from inboxbot.cli.language import Wording
from inboxbot.cli.providers import BY_KEY, PROVIDERS, Endpoint, Provider, resolve
from inboxbot.config import SECURITY_MODES, ConfigError, load

DEFAULT_PORTS = {
    ("imap", "tls"): 993,
    ("imap", "starttls"): 143,
    ("imap", "plain"): 143,
    ("smtp", "tls"): 465,
    ("smtp", "starttls"): 587,
    ("smtp", "plain"): 25,
}


class InitError(Exception):
    """An answer that cannot make a config, phrased for the person answering."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="overwrite an existing config file")
    parser.add_argument("--no-check", action="store_true", help="do not run `inboxbot check` afterwards")
    parser.add_argument("--organisation", help="the organisation's name, as claimants read it")
    parser.add_argument("--address", help="the mailbox address claimants write to")
    parser.add_argument("--provider", choices=[p.key for p in PROVIDERS], help="mail provider preset")
    parser.add_argument("--imap-host")
    parser.add_argument("--imap-port", type=int)
    parser.add_argument("--imap-security", choices=SECURITY_MODES)
    parser.add_argument("--smtp-host")
    parser.add_argument("--smtp-port", type=int)
    parser.add_argument("--smtp-security", choices=SECURITY_MODES)
    parser.add_argument("--username", help="login name for IMAP and SMTP (default: the address)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password-env", help="name of the environment variable holding the password")
    secret.add_argument("--password", help="the password itself, written to the file (chmod 600)")
    parser.add_argument("--director", action="append", help="the director's address (repeat for several)")
    parser.add_argument("--mode", choices=("shared", "dedicated"), help="shared: rules decide; dedicated: all")


class Asker:
    """Questions on `stdin`, or the flag's answer when given."""

    def __init__(self, stdin: TextIO, stdout: TextIO, w: Wording | None = None) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.w = w or Wording()

    def __call__(self, flag: str, question: str, given: str | None, default: str | None = None) -> str:
        if given is not None:
            return given
        prompt = f"{question}{f' [{default}]' if default else ''}{self.w(' : ', ': ')}"
        self.stdout.write(prompt)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            raise InitError(
                self.w(
                    f"pas de réponse à « {question} » (fin de l'entrée standard) ; donnez {flag}",
                    f"no answer for {question!r} (standard input ended); give {flag}",
                )
            )
        answer = line.strip()
        if not answer and default is None:
            raise InitError(
                self.w(f"{question} : une réponse est nécessaire ({flag})", f"{question}: an answer is needed ({flag})")
            )
        return answer or (default or "")

    def secret(self, question: str) -> str:
        if self.stdin is sys.stdin and sys.stdin.isatty():
            return getpass.getpass(f"{question}{self.w(' : ', ': ')}")
        self.stdout.write(f"{question}{self.w(' : ', ': ')}")
        self.stdout.flush()
        return self.stdin.readline().strip()


def _toml(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, and French text stays readable."""
    return json.dumps(value, ensure_ascii=False)


def _endpoint(ask: Asker, side: str, preset: Endpoint | None, args: argparse.Namespace, address: str) -> Endpoint:
    """The preset's server (a flag still overrides each part), or the answers for "other"."""
    given_port = getattr(args, f"{side}_port")
    if preset is not None:
        base = resolve(preset, address)
        security = getattr(args, f"{side}_security") or base.security
        port = given_port or (base.port if security == base.security else DEFAULT_PORTS[(side, security)])
        return Endpoint(getattr(args, f"{side}_host") or base.host, port, security)
    w = ask.w
    host = ask(f"--{side}-host", w(f"serveur {side.upper()}", f"{side.upper()} server"), getattr(args, f"{side}_host"))
    security = ask(
        f"--{side}-security",
        w(f"sécurité {side.upper()} (tls, starttls)", f"{side.upper()} security (tls, starttls)"),
        getattr(args, f"{side}_security"),
        "tls",
    )
    if security not in SECURITY_MODES:
        raise InitError(f"{side}.security: expected one of {', '.join(SECURITY_MODES)}, got {security!r}")
    port_text = ask(
        f"--{side}-port",
        w(f"port {side.upper()}", f"{side.upper()} port"),
        None if given_port is None else str(given_port),
        str(DEFAULT_PORTS[(side, security)]),
    )
    try:
        port = int(port_text)
    except ValueError:
        raise InitError(f"{side}.port: expected a whole number, got {port_text!r}") from None
    return Endpoint(host, port, security)


def _provider(ask: Asker, given: str | None, stdout: TextIO) -> Provider:
    if given is None:
        stdout.write(ask.w("Fournisseur de messagerie :\n", "Mail provider:\n"))
        for number, provider in enumerate(PROVIDERS, start=1):
            stdout.write(f"  {number:2}. {provider.name} ({provider.key})\n")
    answer = ask("--provider", ask.w("fournisseur (numéro ou nom)", "provider (number or name)"), given, "other")
    if answer.isdigit() and 1 <= int(answer) <= len(PROVIDERS):
        return PROVIDERS[int(answer) - 1]
    if answer in BY_KEY:
        return BY_KEY[answer]
    raise InitError(
        ask.w(
            f"fournisseur inconnu {answer!r} ; l'un de : {', '.join(BY_KEY)}",
            f"unknown provider {answer!r}; one of: {', '.join(BY_KEY)}",
        )
    )


def render(
    *,
    organisation: str,
    address: str,
    provider: Provider,
    imap: Endpoint,
    smtp: Endpoint,
    username: str,
    secret_line: str,
    directors: list[str],
    mode: str,
) -> str:
    """The config file's text: the keys answered, with config.example.toml's comments for them."""
    note = "".join(f"# {line}\n" for line in _wrap(provider.note)) if provider.note else ""
    saves = (
        "# save_sent = false               # this provider's SMTP server already files sent mail in Sent\n"
        if provider.smtp_saves_sent
        else "# save_sent = false               # true: file a copy of what inboxbot sends in Sent (your mail\n"
        "                                  # client then shows whole conversations); leave false if your\n"
        "                                  # provider's SMTP server already does it (else two copies)\n"
    )
    plain = "allow_plain = true\n" if "plain" in (imap.security, smtp.security) else ""
    return f"""\
# inboxbot — configuration written by `inboxbot init` for {provider.name}.
# config.example.toml documents every key. Relative paths are relative to this file.
# Check it with `inboxbot check`; start with `inboxbot run`.

[organisation]
name = {_toml(organisation)}
timezone = "Europe/Paris"
# case_label = "Dossier"          # the word in the subject tag: [Dossier 2026-0001]

{note}[imap]
host = {_toml(imap.host)}
port = {imap.port}
{_commented(f"security = {_toml(imap.security)}", '"tls" (port 993), "starttls" (143)')}
username = {_toml(username)}
{secret_line}
inbox_folder = "INBOX"
# sent_folder = "Sent"            # found automatically when absent: the folder the server flags \\Sent
                                  # (SPECIAL-USE), else a usual name ("Sent", "Envoyés", "Éléments envoyés"...)
{saves}{_commented(f"mode = {_toml(mode)}", '"shared": rules decide; "dedicated": every human mail is a claim')}
# ca_file = "my-ca.pem"           # certificates to trust besides the system's (a private CA)
# ingest_since = "2026-09-01"     # on first start, also read mail already there since this date
                                  # (by default, mail already in the mailbox is left alone)
{plain}
[smtp]
host = {_toml(smtp.host)}
port = {smtp.port}
{_commented(f"security = {_toml(smtp.security)}", '"starttls" (587) or "tls" (465)')}
username = {_toml(username)}
{secret_line}
from_address = {_toml(address)}
from_name = {_toml(organisation)}
{plain}
[director]
addresses = [{", ".join(_toml(a) for a in directors)}]
digest_time = "08:00"
# Commands mailed to your own address are obeyed when their copy shows up in your Sent folder, or
# when your receiving server vouches for them (DKIM/SPF/DMARC pass in its Authentication-Results);
# name that server here (the first word of the header it adds), e.g. ["mx.ovh.net"].
# authserv_ids = []

[database]
url = "sqlite:///inboxbot.db"     # or "postgresql+psycopg://user@host/dbname"

[storage]
archive_dir = "archive"           # every mail as received (.eml), and attachments
retention_years = 3               # the procedure's minimum
"""


def _commented(line: str, comment: str) -> str:
    """`line` with `comment` in the column config.example.toml uses for its comments."""
    return f"{line.ljust(33)} # {comment}"


def _wrap(text: str, width: int = 98) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*lines, current] if current else lines


def run_init(
    args: argparse.Namespace,
    path: Path,
    check: Callable[[Path], int],
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> int:
    w = Wording()
    if path.exists() and not args.force:
        raise InitError(
            w(
                f"{path} existe déjà ; il n'est pas remplacé (--force pour le remplacer)",
                f"{path} already exists; not overwriting it (use --force to replace it)",
            )
        )
    ask = Asker(stdin, stdout, w)
    organisation = ask("--organisation", w("nom de l'organisme", "organisation name"), args.organisation)
    address = (
        ask(
            "--address",
            w("adresse de la boîte (celle où écrivent les réclamants)", "mailbox address (where claimants write)"),
            args.address,
        )
        .strip()
        .lower()
    )
    if "@" not in address:
        raise InitError(f"smtp.from_address: expected an email address, got {address!r}")
    provider = _provider(ask, args.provider, stdout)
    if provider.note and args.provider is None:
        stdout.write(w(f"à noter : {provider.note}\n", f"note: {provider.note}\n"))
    imap = _endpoint(ask, "imap", provider.imap, args, address)
    smtp = _endpoint(ask, "smtp", provider.smtp, args, address)
    if provider.imap is not None:
        servers = f"IMAP {imap.host}:{imap.port} ({imap.security}), SMTP {smtp.host}:{smtp.port} ({smtp.security})"
        stdout.write(w(f"serveurs : {servers}\n", f"servers: {servers}\n"))
    username = ask("--username", w("identifiant de connexion", "login name"), args.username, address)
    if args.password_env is not None:
        secret_line = f"password_env = {_toml(args.password_env)}"
    elif args.password is not None:
        secret_line = f"password = {_toml(args.password)}"
    else:
        password = ask.secret(
            w(
                "mot de passe (laissez vide pour le lire plutôt dans une variable d'environnement)",
                "password (leave empty to read it from an environment variable instead)",
            )
        )
        if password:
            secret_line = f"password = {_toml(password)}"
        else:
            variable = ask(
                "--password-env",
                w("variable d'environnement qui contient le mot de passe", "environment variable holding the password"),
                None,
                "INBOXBOT_PASSWORD",
            )
            secret_line = f"password_env = {_toml(variable)}"
    director_text = ask(
        "--director",
        w("adresse(s) de la directrice, séparées par des virgules", "director's address(es), separated by commas"),
        ",".join(args.director or []) or None,
        address,
    )
    directors = [a.strip().lower() for a in director_text.split(",") if a.strip()]
    mode = ask(
        "--mode",
        w(
            "mode de la boîte (shared : les règles décident ; dedicated : chaque message est une réclamation)",
            "mailbox mode (shared: rules decide; dedicated: every mail is a claim)",
        ),
        args.mode,
        "shared",
    )
    if mode not in ("shared", "dedicated"):
        raise InitError(f"imap.mode: expected shared or dedicated, got {mode!r}")

    text = render(
        organisation=organisation,
        address=address,
        provider=provider,
        imap=imap,
        smtp=smtp,
        username=username,
        secret_line=secret_line,
        directors=directors,
        mode=mode,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created private from the start: it may hold a password.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(path, 0o600)
    stdout.write(w(f"{path} écrit\n", f"wrote {path}\n"))
    try:
        load(path)
    except ConfigError as exc:
        if "_env" in exc.key and "is not set" in str(exc):
            stdout.write(
                w(
                    f"{exc}\ndéfinissez-la, puis lancez : inboxbot --config {path} check\n",
                    f"{exc}\nset it, then run: inboxbot --config {path} check\n",
                )
            )
            return 0 if args.no_check else 1
        raise
    if args.no_check:
        stdout.write(w(f"ensuite : inboxbot --config {path} check\n", f"next: inboxbot --config {path} check\n"))
        return 0
    return check(path)
