"""The configuration file, read once into typed, frozen settings.

Every error names the key (`imap.port`) and what was expected, because the person reading it is
setting up a mail account, not reading Python. Relative paths are taken relative to the config
file, so a config works the same whatever directory the daemon is started from.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import inboxbot

T = TypeVar("T")

SECURITY_MODES = ("tls", "starttls", "plain")
MAILBOX_MODES = ("dedicated", "shared")
AUTH_MODES = ("password", "oauth2")
OAUTH_PROVIDERS = ("google", "microsoft", "custom")

# Where each provider signs users in and hands out tokens, and the scopes that open IMAP and SMTP.
# Google's device flow refuses the mail scope, so Google has no device endpoint: it signs in through
# a browser redirected to this machine. Microsoft's endpoints depend on the tenant ("common" accepts
# any work or personal account).
_GOOGLE = {
    "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_url": "https://oauth2.googleapis.com/token",
    "device_url": None,
    "scopes": ["https://mail.google.com/"],
}
_MICROSOFT_BASE = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
_MICROSOFT_SCOPES = [
    "offline_access",
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
]


class ConfigError(Exception):
    """A configuration problem, phrased for the person who edits the file."""

    def __init__(self, key: str, message: str, source: Path | None = None) -> None:
        self.key = key
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {message}")


@dataclass(frozen=True)
class OrganisationSettings:
    name: str
    timezone: ZoneInfo
    case_label: str = "Dossier"
    # When the procedure was last reviewed before inboxbot kept track (later ones: #revue).
    procedure_reviewed: date | None = None
    procedure_file: Path | None = None  # the procedure's text, put beside the register in the audit file


@dataclass(frozen=True)
class OAuthSettings:
    """One OAuth2 client and account, shared by IMAP and SMTP (the same mailbox serves both)."""

    provider: str
    client_id: str
    token_url: str
    token_file: Path  # the current access token and the latest (rotated) refresh token live here
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    authorize_url: str | None = None
    device_url: str | None = None
    scopes: tuple[str, ...] = ()
    tenant: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str
    username: str
    password: str = field(repr=False)
    inbox_folder: str = "INBOX"
    sent_folder: str | None = None
    watch_sent: bool = True
    mode: str = "shared"
    open_on_words: bool | None = None  # None: the recognition vocabulary's `seuils.ouvrir_sur_les_mots`
    poll_interval: float = 60.0
    idle: bool = True
    ingest_since: date | None = None
    fetch_batch: int = 200
    timeout: float = 60.0
    ca_file: Path | None = None  # certificates to trust besides the system's (a private CA)
    save_sent: bool = False  # APPEND what inboxbot sends to Sent (servers like Gmail's SMTP do it already)
    auth: str = "password"
    oauth2: OAuthSettings | None = None  # set when auth is "oauth2"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    from_address: str
    from_name: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    ca_file: Path | None = None
    auth: str = "password"
    oauth2: OAuthSettings | None = None  # set when auth is "oauth2"


@dataclass(frozen=True)
class DirectorSettings:
    addresses: tuple[str, ...]
    digest_time: time = time(8, 0)
    # Receiving servers whose Authentication-Results header proves a mail really is hers.
    authserv_ids: tuple[str, ...] = ()
    # How long a command mail in the inbox may wait for its copy in Sent before it is suspicious.
    proof_grace_minutes: int = 30
    notify: bool = True
    # Suspicious mails (her address, no proof) mailed to her each day; the rest wait for the digest,
    # so that a stranger cannot make inboxbot mail her once per forged mail.
    suspicious_notices_per_day: int = 1
    # A mailbox that cannot be read, or mail that cannot be sent, for this long is told to her by
    # mail (as soon as sending works) and in the digest; a shorter outage only in the log.
    outage_alert_minutes: int = 120


@dataclass(frozen=True)
class PeopleSettings:
    """Who reports incidents: their mails are read as trainers' and partners' reports, in their own words."""

    trainers: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()

    @property
    def reporters(self) -> frozenset[str]:
        return frozenset((*self.trainers, *self.partners))


@dataclass(frozen=True)
class FeedbackSettings:
    enabled: bool = True
    delay_days: int = 7
    kinds: tuple[str, ...] = ("reclamation",)


@dataclass(frozen=True)
class ClosureSettings:
    notify_claimant: bool = False


@dataclass(frozen=True)
class ReportSettings:
    # The organisation's own analysis of its quality risks, a text file quoted in the annual report.
    risks_file: Path | None = None


@dataclass(frozen=True)
class MediatorSettings:
    """The mediator the organisation appointed, named to claimants when set (`[mediator]`).

    Consumer law expects a learner paying for their own training to be told of one; the procedure's
    « système de médiation » is the director's own, which these settings do not replace.
    """

    name: str = ""
    contact: str = ""  # how to reach them: a web address, a postal address, a telephone number


@dataclass(frozen=True)
class DigestSettings:
    enabled: bool = True
    horizon_days: int = 5  # deadlines coming within this many days are listed
    quiet_days: int = 14  # an open case with no exchange with the claimant for this long is listed
    skip_non_working_days: bool = True
    when_empty: str = "short"  # "short": a one-line mail; "skip": no mail at all


@dataclass(frozen=True)
class DatabaseSettings:
    url: str


@dataclass(frozen=True)
class StorageSettings:
    archive_dir: Path
    retention_years: int = 3
    purge_mode: str = "anonymise"  # or "delete"
    # Larger attachments stay only inside the archived raw mail, and the case says so.
    max_attachment_bytes: int = 25 * 1024 * 1024
    # Attachments kept of one mail (files inside a winmail.dat count one each); the others stay
    # only inside the archived raw mail, and the case says so.
    max_attachments: int = 250


@dataclass(frozen=True)
class DeadlineSettings:
    acknowledge_working_days: int = 15
    response_days: int = 30
    holiday_country: str = "FR"
    holiday_subdivision: str | None = None
    # The organisation's own closures (first day, last day), not counted as working days.
    closures: tuple[tuple[date, date], ...] = ()


@dataclass(frozen=True)
class AcknowledgementSettings:
    enabled: bool = True
    # Acknowledgements a day to one mailbox (every spelling of the address together).
    daily_cap_per_sender: int = 3
    # Acknowledgements a day in all; 0, the default, is no limit: a first ingest of months of mail
    # or a busy morning must never be held back. A bound for whoever prefers one.
    daily_cap_total: int = 0


@dataclass(frozen=True)
class OutboxSettings:
    max_attempts: int = 20
    first_retry_seconds: float = 30.0
    max_retry_seconds: float = 3600.0


@dataclass(frozen=True)
class Settings:
    organisation: OrganisationSettings
    imap: ImapSettings
    smtp: SmtpSettings
    director: DirectorSettings
    database: DatabaseSettings
    storage: StorageSettings
    deadlines: DeadlineSettings
    acknowledgement: AcknowledgementSettings
    outbox: OutboxSettings
    feedback: FeedbackSettings
    closure: ClosureSettings
    digest: DigestSettings
    rules_dir: Path | None
    templates_dir: Path | None
    source: Path | None = None
    people: PeopleSettings = PeopleSettings()
    mediator: MediatorSettings = MediatorSettings()
    report: ReportSettings = ReportSettings()


class _Section:
    """Typed access to one TOML table, remembering the dotted path for error messages."""

    def __init__(self, data: Mapping[str, Any], path: str, source: Path | None) -> None:
        self.data = data
        self.path = path
        self.source = source
        self.used: set[str] = set()

    def _key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(self._key(name), message, self.source)

    def _get(self, name: str, kind: type | tuple[type, ...], expected: str, default: object) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is _REQUIRED:
                raise self.error(name, f"missing; expected {expected}")
            return default
        value = self.data[name]
        # bool is an int in Python; a port of `true` is a mistake worth naming.
        if isinstance(value, bool) and kind is not bool and kind != (bool,):
            raise self.error(name, f"expected {expected}, got {value!r}")
        if not isinstance(value, kind):
            raise self.error(name, f"expected {expected}, got {value!r}")
        return value

    # Each accessor returns its type, optional only when the key may be missing and no default is
    # given: the settings below are built with the types mypy checks, not with Any.

    @overload
    def string(self, name: str, default: None = None) -> str | None: ...
    @overload
    def string(self, name: str, default: str | _Required) -> str: ...
    def string(self, name: str, default: str | _Required | None = None) -> str | None:
        value: str | None = self._get(name, str, "a string", default)
        if value is not None and not value.strip() and default is _REQUIRED:
            raise self.error(name, "must not be empty")
        return value

    @overload
    def integer(self, name: str, default: None = None, minimum: int | None = None) -> int | None: ...
    @overload
    def integer(self, name: str, default: int | _Required, minimum: int | None = None) -> int: ...
    def integer(self, name: str, default: int | _Required | None = None, minimum: int | None = None) -> int | None:
        value: int | None = self._get(name, int, "a whole number", default)
        if value is not None and minimum is not None and value < minimum:
            raise self.error(name, f"must be at least {minimum}, got {value}")
        return value

    @overload
    def number(self, name: str, default: None = None, minimum: float = 0) -> float | None: ...
    @overload
    def number(self, name: str, default: float | _Required, minimum: float = 0) -> float: ...
    def number(self, name: str, default: float | _Required | None = None, minimum: float = 0) -> float | None:
        value: float | None = self._get(name, (int, float), "a number", default)
        if value is not None and value < minimum:
            raise self.error(name, f"must be at least {minimum}, got {value}")
        return None if value is None else float(value)

    @overload
    def boolean(self, name: str, default: None = None) -> bool | None: ...
    @overload
    def boolean(self, name: str, default: bool | _Required) -> bool: ...
    def boolean(self, name: str, default: bool | _Required | None = None) -> bool | None:
        value: bool | None = self._get(name, bool, "true or false", default)
        return value

    @overload
    def choice(self, name: str, choices: tuple[str, ...], default: None = None) -> str | None: ...
    @overload
    def choice(self, name: str, choices: tuple[str, ...], default: str | _Required) -> str: ...
    def choice(self, name: str, choices: tuple[str, ...], default: str | _Required | None = None) -> str | None:
        value = self.string(name, default) if default is not None else self.string(name)
        if value is not None and value not in choices:
            raise self.error(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    @overload
    def str_list(self, name: str, default: None = None) -> list[str] | None: ...
    @overload
    def str_list(self, name: str, default: list[str] | _Required) -> list[str]: ...
    def str_list(self, name: str, default: list[str] | _Required | None = None) -> list[str] | None:
        value: list[object] | None = self._get(name, list, "a list of strings", default)
        if value is None:
            return None
        strings = [item for item in value if isinstance(item, str)]
        if len(strings) != len(value):
            raise self.error(name, f"expected a list of strings, got {value!r}")
        return strings

    @overload
    def parsed(self, name: str, parse: Callable[[str], T], expected: str, default: None = None) -> T | None: ...
    @overload
    def parsed(self, name: str, parse: Callable[[str], T], expected: str, default: T | _Required) -> T: ...
    def parsed(
        self, name: str, parse: Callable[[str], T], expected: str, default: T | _Required | None = None
    ) -> T | None:
        self.used.add(name)
        if name not in self.data:
            if isinstance(default, _Required):
                raise self.error(name, f"missing; expected {expected}")
            return default
        value = self.data[name]
        if isinstance(value, (date, time)) and not isinstance(value, str):
            # TOML's own dates and times: what `parse` makes of the written form (dates, clock times).
            return value  # type: ignore[return-value]
        if not isinstance(value, str):
            raise self.error(name, f"expected {expected}, got {value!r}")
        try:
            return parse(value)
        except ValueError:
            raise self.error(name, f"expected {expected}, got {value!r}") from None

    def secret(self, name: str, required: bool) -> str | None:
        """`name` given in the file, or `name_env` naming an environment variable that holds it."""
        env_key = f"{name}_env"
        direct: str | None = self.string(name)
        env_name: str | None = self.string(env_key)
        if direct is not None and env_name is not None:
            raise self.error(name, f"give either {name} or {env_key}, not both")
        if env_name is not None:
            if env_name not in os.environ:
                raise self.error(env_key, f"environment variable {env_name} is not set")
            return os.environ[env_name]
        if direct is None and required:
            raise self.error(name, f"missing; give {name} or {env_key}")
        return direct

    def path_value(self, name: str, base: Path, default: str | None = None) -> Path | None:
        value = self.string(name, default) if default is not None else self.string(name)
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path

    def sub(self, name: str, required: bool = True) -> _Section:
        self.used.add(name)
        value = self.data.get(name)
        if value is None:
            if required:
                raise ConfigError(self._key(name), "missing section", self.source)
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(self._key(name), "expected a section (a [table])", self.source)
        return _Section(value, self._key(name), self.source)

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(unknown[0], "unknown key (a typo?)")


class _Required:
    """The default of a key that must be given."""


_REQUIRED = _Required()


def _existing_file(section: _Section, name: str, base: Path) -> Path | None:
    path = section.path_value(name, base)
    if path is not None and not path.is_file():
        raise section.error(name, f"no such file: {path}")
    return path


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _check_plain(section: _Section, security: str, host: str) -> None:
    """Plain text carries the password unencrypted: only to this machine, unless said on purpose."""
    if security == "plain" and not _is_loopback(host) and not section.boolean("allow_plain", False):
        raise section.error(
            "security",
            f'"plain" sends the password unencrypted to {host}; use "tls" or "starttls", '
            f"or set {section.path}.allow_plain = true if the network is trusted",
        )
    section.used.add("allow_plain")


def _port(section: _Section, default: int) -> int:
    port: int = section.integer("port", default, minimum=1)
    if port > 65535:
        raise section.error("port", f"must be at most 65535, got {port}")
    return port


def _endpoint(section: _Section, name: str, default: str | None) -> str | None:
    """An endpoint URL: HTTPS, or plain HTTP to this machine only (tokens and secrets travel in it)."""
    value: str | None = section.string(name, default)
    if value is None:
        return None
    parts = urllib.parse.urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return value
    raise section.error(name, f"expected an https:// address, got {value!r}")


def _no_password(section: _Section, auth: str) -> None:
    """A password left beside `auth = "oauth2"` would look used while it is not: say so."""
    for name in ("password", "password_env"):
        if auth == "oauth2" and name in section.data:
            raise section.error(name, f'not used with {section.path}.auth = "oauth2"; remove it')


def _oauth2(section: _Section, base_dir: Path) -> OAuthSettings:
    provider: str = section.choice("provider", OAUTH_PROVIDERS, _REQUIRED)
    tenant: str | None = section.string("tenant")
    if tenant is not None and provider != "microsoft":
        raise section.error("tenant", 'only used with provider = "microsoft"')
    if provider == "google":
        preset: dict[str, Any] = dict(_GOOGLE)
    elif provider == "microsoft":
        tenant = tenant or "common"
        if not tenant.strip() or any(ch in tenant for ch in "/?#& "):
            raise section.error(
                "tenant", f"expected a tenant name or id such as contoso.onmicrosoft.com, got {tenant!r}"
            )
        base = _MICROSOFT_BASE.format(tenant=tenant)
        preset = {
            "authorize_url": f"{base}/authorize",
            "token_url": f"{base}/token",
            "device_url": f"{base}/devicecode",
            "scopes": _MICROSOFT_SCOPES,
        }
    else:
        preset = {"authorize_url": None, "token_url": _REQUIRED, "device_url": None, "scopes": []}
    token_url = _endpoint(section, "token_url", preset["token_url"])
    assert token_url is not None
    scopes = section.str_list("scopes", preset["scopes"])
    return OAuthSettings(
        provider=provider,
        client_id=section.string("client_id", _REQUIRED),
        client_secret=section.secret("client_secret", required=False),
        refresh_token=section.secret("refresh_token", required=False),
        token_file=section.path_value("token_file", base_dir, "oauth2-token.json") or base_dir / "oauth2-token.json",
        token_url=token_url,
        authorize_url=_endpoint(section, "authorize_url", preset["authorize_url"]),
        device_url=_endpoint(section, "device_url", preset["device_url"]),
        scopes=tuple(scopes),
        tenant=tenant,
        timeout=section.number("timeout", 30.0, minimum=1),
    )


def shipped(name: str) -> Path:
    """A directory shipped with the program: inside the installed wheel, or the source checkout."""
    packaged = Path(inboxbot.__file__).parent / "_data" / name
    return packaged if packaged.is_dir() else Path(inboxbot.__file__).parent.parent / name


def template_dirs(settings: Settings) -> list[Path]:
    """Where templates are looked up, highest priority first: the organisation's own, then the shipped ones."""
    dirs = [shipped("templates")]
    if settings.templates_dir is not None:
        dirs.insert(0, settings.templates_dir)
    return dirs


def _closures(section: _Section, name: str) -> tuple[tuple[date, date], ...]:
    """Closures as written in TOML: each a day, or a range `["2026-08-03", "2026-08-14"]` (dates or strings)."""
    raw = section._get(name, list, "a list of days or of [first, last] ranges", [])
    expected = 'a day (2026-08-03) or a range ["2026-08-03", "2026-08-14"]'

    def day(value: object) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise section.error(name, f"expected {expected}, got {value!r}")

    closures: list[tuple[date, date]] = []
    for item in raw:
        if isinstance(item, list) and len(item) == 2:
            first, last = day(item[0]), day(item[1])
        else:
            first = last = day(item)
        if last < first:
            raise section.error(name, f"a closure ends before it starts: {item!r}")
        closures.append((first, last))
    return tuple(closures)


def _zone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(value) from None


def _clock_time(value: str) -> time:
    return time.fromisoformat(value)


def _address(section: _Section, name: str, value: str) -> str:
    if "@" not in value or any(ch.isspace() for ch in value.strip()):
        raise section.error(name, f"expected an email address, got {value!r}")
    return value.strip().lower()


def settings_from_mapping(data: Mapping[str, Any], base_dir: Path, source: Path | None = None) -> Settings:
    """Validate an already-parsed TOML document; used by `load` and by the embedded demo."""
    root = _Section(data, "", source)

    org = root.sub("organisation")
    organisation = OrganisationSettings(
        name=org.string("name", _REQUIRED),
        timezone=org.parsed("timezone", _zone, "an IANA time zone such as Europe/Paris", ZoneInfo("Europe/Paris")),
        case_label=org.string("case_label", "Dossier"),
        procedure_reviewed=org.parsed("procedure_reviewed", date.fromisoformat, "a date YYYY-MM-DD"),
        procedure_file=org.path_value("procedure_file", base_dir),
    )
    org.reject_unknown()

    im = root.sub("imap")
    sm = root.sub("smtp")
    imap_auth: str = im.choice("auth", AUTH_MODES, "password")
    # The same account usually serves both, so SMTP signs in the way IMAP does unless told otherwise.
    smtp_auth: str = sm.choice("auth", AUTH_MODES, imap_auth)
    oa = root.sub("oauth2", required="oauth2" in (imap_auth, smtp_auth))
    oauth2 = _oauth2(oa, base_dir) if oa.data else None
    oa.reject_unknown()
    _no_password(im, imap_auth)
    _no_password(sm, smtp_auth)
    security = im.choice("security", SECURITY_MODES, "tls")
    ingest_since = im.parsed("ingest_since", date.fromisoformat, "a date YYYY-MM-DD")
    imap_username: str = im.string("username", _REQUIRED)
    imap = ImapSettings(
        host=im.string("host", _REQUIRED),
        port=_port(im, {"tls": 993}.get(security, 143)),
        security=security,
        username=imap_username,
        password=(im.secret("password", required=True) or "") if imap_auth == "password" else "",
        inbox_folder=im.string("inbox_folder", "INBOX"),
        sent_folder=im.string("sent_folder"),
        watch_sent=im.boolean("watch_sent", True),
        mode=im.choice("mode", MAILBOX_MODES, "shared"),
        open_on_words=im.boolean("open_on_words"),
        poll_interval=im.number("poll_interval", 60.0, minimum=1),
        idle=im.boolean("idle", True),
        ingest_since=ingest_since,
        fetch_batch=im.integer("fetch_batch", 200, minimum=1),
        timeout=im.number("timeout", 60.0, minimum=1),
        ca_file=_existing_file(im, "ca_file", base_dir),
        save_sent=im.boolean("save_sent", False),
        auth=imap_auth,
        oauth2=oauth2 if imap_auth == "oauth2" else None,
    )
    _check_plain(im, imap.security, imap.host)
    im.reject_unknown()

    smtp_security = sm.choice("security", SECURITY_MODES, "starttls")
    from_address_raw = sm.string("from_address", _REQUIRED)
    smtp = SmtpSettings(
        host=sm.string("host", _REQUIRED),
        port=_port(sm, {"tls": 465, "starttls": 587}.get(smtp_security, 25)),
        security=smtp_security,
        from_address=_address(sm, "from_address", from_address_raw),
        from_name=sm.string("from_name", organisation.name),
        username=sm.string("username", imap_username if smtp_auth == "oauth2" else None),
        password=sm.secret("password", required=False) if smtp_auth == "password" else None,
        timeout=sm.number("timeout", 60.0, minimum=1),
        ca_file=_existing_file(sm, "ca_file", base_dir),
        auth=smtp_auth,
        oauth2=oauth2 if smtp_auth == "oauth2" else None,
    )
    _check_plain(sm, smtp.security, smtp.host)
    sm.reject_unknown()

    di = root.sub("director")
    addresses = di.str_list("addresses", _REQUIRED)
    if not addresses:
        raise di.error("addresses", "give at least one address")
    director = DirectorSettings(
        addresses=tuple(_address(di, "addresses", a) for a in addresses),
        digest_time=di.parsed("digest_time", _clock_time, 'a time such as "08:00"', time(8, 0)),
        authserv_ids=tuple(a.strip().lower() for a in di.str_list("authserv_ids", [])),
        proof_grace_minutes=di.integer("proof_grace_minutes", 30, minimum=1),
        notify=di.boolean("notify", True),
        suspicious_notices_per_day=di.integer("suspicious_notices_per_day", 1, minimum=0),
        outage_alert_minutes=di.integer("outage_alert_minutes", 120, minimum=1),
    )
    di.reject_unknown()

    pe = root.sub("people", required=False)
    people = PeopleSettings(
        trainers=tuple(_address(pe, "trainers", a) for a in pe.str_list("trainers", [])),
        partners=tuple(_address(pe, "partners", a) for a in pe.str_list("partners", [])),
    )
    pe.reject_unknown()

    db = root.sub("database")
    url = db.string("url", "sqlite:///inboxbot.db")
    password = db.secret("password", required=False)
    if password is not None:
        url = _with_password(db, url, password)
    database = DatabaseSettings(url=_resolve_sqlite(url, base_dir))
    db.reject_unknown()

    st = root.sub("storage")
    retention = st.integer("retention_years", 3)
    if retention < 3:
        raise st.error("retention_years", f"the procedure keeps records at least 3 years, got {retention}")
    storage = StorageSettings(
        archive_dir=st.path_value("archive_dir", base_dir, "archive") or base_dir / "archive",
        retention_years=retention,
        purge_mode=st.choice("purge_mode", ("anonymise", "delete"), "anonymise"),
        max_attachment_bytes=st.integer("max_attachment_bytes", 25 * 1024 * 1024, minimum=0),
        max_attachments=st.integer("max_attachments", 250, minimum=0),
    )
    st.reject_unknown()

    dl = root.sub("deadlines", required=False)
    deadlines = DeadlineSettings(
        acknowledge_working_days=dl.integer("acknowledge_working_days", 15, minimum=1),
        response_days=dl.integer("response_days", 30, minimum=1),
        holiday_country=dl.string("holiday_country", "FR"),
        holiday_subdivision=dl.string("holiday_subdivision"),
        closures=_closures(dl, "closures"),
    )
    dl.reject_unknown()

    ack = root.sub("acknowledgement", required=False)
    acknowledgement = AcknowledgementSettings(
        enabled=ack.boolean("enabled", True),
        daily_cap_per_sender=ack.integer("daily_cap_per_sender", 3, minimum=1),
        daily_cap_total=ack.integer("daily_cap_total", 0, minimum=0),
    )
    ack.reject_unknown()

    ob = root.sub("outbox", required=False)
    outbox = OutboxSettings(
        max_attempts=ob.integer("max_attempts", 20, minimum=1),
        first_retry_seconds=ob.number("first_retry_seconds", 30.0, minimum=0),
        max_retry_seconds=ob.number("max_retry_seconds", 3600.0, minimum=0),
    )
    ob.reject_unknown()

    fb = root.sub("feedback", required=False)
    kinds = fb.str_list("kinds", ["reclamation"])
    for kind in kinds:
        if kind not in ("reclamation", "difficulte", "alea"):
            raise fb.error("kinds", f"expected reclamation, difficulte or alea, got {kind!r}")
    feedback = FeedbackSettings(
        enabled=fb.boolean("enabled", True),
        delay_days=fb.integer("delay_days", 7, minimum=0),
        kinds=tuple(kinds),
    )
    fb.reject_unknown()

    cl = root.sub("closure", required=False)
    closure = ClosureSettings(notify_claimant=cl.boolean("notify_claimant", False))
    cl.reject_unknown()

    md = root.sub("mediator", required=False)
    mediator = MediatorSettings(name=md.string("name", "").strip(), contact=md.string("contact", "").strip())
    if mediator.contact and not mediator.name:
        raise md.error("name", "missing: the mediator's contact is given but not their name")
    md.reject_unknown()

    rp = root.sub("report", required=False)
    report = ReportSettings(risks_file=rp.path_value("risks_file", base_dir))
    rp.reject_unknown()

    dg = root.sub("digest", required=False)
    digest = DigestSettings(
        enabled=dg.boolean("enabled", True),
        horizon_days=dg.integer("horizon_days", 5, minimum=0),
        quiet_days=dg.integer("quiet_days", 14, minimum=1),
        skip_non_working_days=dg.boolean("skip_non_working_days", True),
        when_empty=dg.choice("when_empty", ("short", "skip"), "short"),
    )
    dg.reject_unknown()

    ru = root.sub("rules", required=False)
    rules_dir = ru.path_value("dir", base_dir)
    ru.reject_unknown()
    te = root.sub("templates", required=False)
    templates_dir = te.path_value("dir", base_dir)
    te.reject_unknown()

    root.reject_unknown()
    return Settings(
        organisation=organisation,
        imap=imap,
        smtp=smtp,
        director=director,
        database=database,
        storage=storage,
        deadlines=deadlines,
        acknowledgement=acknowledgement,
        outbox=outbox,
        feedback=feedback,
        closure=closure,
        mediator=mediator,
        report=report,
        digest=digest,
        rules_dir=rules_dir,
        templates_dir=templates_dir,
        source=source,
        people=people,
    )


def _with_password(section: _Section, url: str, password: str) -> str:
    """`url` with `password` put in it, so the config file can name an environment variable
    (`password_env`) instead of holding the database's password in its URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise section.error("url", f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        raise section.error("password", "a SQLite database has no password")
    if parsed.password is not None:
        raise section.error("password", "the url already holds a password: give it in one place")
    return parsed.set(password=password).render_as_string(hide_password=False)


def _resolve_sqlite(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to the config file, like every other path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(base_dir / url[len(prefix) :])
    return url


def load(path: Path) -> Settings:
    """Read and validate the config file at `path`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("config", "the file is not UTF-8 text", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"not valid TOML: {exc}", path) from None
    return settings_from_mapping(data, path.resolve().parent, path)
