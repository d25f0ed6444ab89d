"""Mail providers French training organisations use, as data: where their IMAP and SMTP servers are.

Hosts and ports are those the providers publish for mail clients (November 2026). `{domain}` in a
host stands for the part of the mailbox address after the @ (shared hosts such as o2switch serve
each customer's mail under the customer's own domain). Google and Microsoft no longer accept a
plain password for most accounts: their notes point to OAuth2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    security: str  # "tls" (implicit) or "starttls"


@dataclass(frozen=True)
class Provider:
    key: str
    name: str
    imap: Endpoint | None  # None: asked (the "other" preset)
    smtp: Endpoint | None
    note: str = ""  # written as a comment above [imap] in the config, and shown by `inboxbot init`
    oauth: bool = False  # a password is refused for most accounts: OAuth2 is the way
    smtp_saves_sent: bool = False  # its SMTP server files what is sent in Sent: save_sent stays false


OAUTH_NOTE = "see the OAuth2 section of README.md"

PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "gmail",
        "Gmail / Google Workspace",
        Endpoint("imap.gmail.com", 993, "tls"),
        Endpoint("smtp.gmail.com", 465, "tls"),
        note=(
            "Google refuses the account's own password: use OAuth2 (" + OAUTH_NOTE + "), or an app password "
            "(needs 2-step verification). IMAP must be enabled in Gmail's settings."
        ),
        oauth=True,
        smtp_saves_sent=True,
    ),
    Provider(
        "microsoft365",
        "Microsoft 365 (Exchange Online)",
        Endpoint("outlook.office365.com", 993, "tls"),
        Endpoint("smtp.office365.com", 587, "starttls"),
        note=(
            "Microsoft 365 has turned off passwords (basic authentication) for IMAP: use OAuth2 ("
            + OAUTH_NOTE
            + "). SMTP AUTH must be allowed for the mailbox by its administrator."
        ),
        oauth=True,
        smtp_saves_sent=True,
    ),
    Provider(
        "outlook",
        "Outlook.com / Hotmail",
        Endpoint("outlook.office365.com", 993, "tls"),
        Endpoint("smtp-mail.outlook.com", 587, "starttls"),
        note="Outlook.com accepts OAuth2 only (" + OAUTH_NOTE + ").",
        oauth=True,
        smtp_saves_sent=True,
    ),
    Provider(
        "ovh",
        "OVHcloud (MX Plan)",
        Endpoint("ssl0.ovh.net", 993, "tls"),
        Endpoint("ssl0.ovh.net", 465, "tls"),
        note="OVHcloud Email Pro uses pro1.mail.ovh.net (or the host shown in the manager), Exchange its own.",
    ),
    Provider(
        "ionos",
        "IONOS",
        Endpoint("imap.ionos.fr", 993, "tls"),
        Endpoint("smtp.ionos.fr", 465, "tls"),
    ),
    Provider(
        "orange",
        "Orange",
        Endpoint("imap.orange.fr", 993, "tls"),
        Endpoint("smtp.orange.fr", 465, "tls"),
    ),
    Provider(
        "free",
        "Free",
        Endpoint("imap.free.fr", 993, "tls"),
        Endpoint("smtp.free.fr", 465, "tls"),
        note="IMAP access may first have to be enabled in Free's webmail settings.",
    ),
    Provider(
        "gandi",
        "Gandi",
        Endpoint("mail.gandi.net", 993, "tls"),
        Endpoint("mail.gandi.net", 465, "tls"),
    ),
    Provider(
        "infomaniak",
        "Infomaniak",
        Endpoint("mail.infomaniak.com", 993, "tls"),
        Endpoint("mail.infomaniak.com", 465, "tls"),
    ),
    Provider(
        "o2switch",
        "o2switch",
        Endpoint("mail.{domain}", 993, "tls"),
        Endpoint("mail.{domain}", 465, "tls"),
        note=(
            "If the certificate does not name mail.<your domain>, use the server name shown in cPanel "
            "(something.o2switch.net) for both hosts."
        ),
    ),
    Provider("other", "another provider (you give the servers)", None, None),
)

BY_KEY = {provider.key: provider for provider in PROVIDERS}


def resolve(endpoint: Endpoint, address: str) -> Endpoint:
    """`endpoint` with `{domain}` replaced by the domain of `address`."""
    domain = address.rpartition("@")[2]
    return Endpoint(endpoint.host.replace("{domain}", domain), endpoint.port, endpoint.security)
