"""A realistic French mix of mails for the benchmark, as bytes ready for IMAP APPEND.

The mix (per 20 mails, in a shuffled but reproducible order):

- 14 ordinary mails from people (complaints, questions), about 5 KB: text and HTML alternatives;
- 2 of the same with a 100 KB attachment (incompressible bytes: a scanned PDF or a photo);
- 2 replies to an earlier mail of the same sender (In-Reply-To, References, quoted text);
- 1 out-of-office answer (Auto-Submitted: auto-replied);
- 1 newsletter (List-Id, List-Unsubscribe, Precedence: bulk), about 9 KB.

So one mail in ten carries a 100 KB attachment and one in ten is automatic. Every sender of an
original mail is distinct (as in a real inbox, and so that no sender reaches the product's daily
acknowledgement cap); a reply comes from the sender of the mail it answers.

Mails are built with tests/mails.py (`EmailMessage` under `policy.SMTP`: CRLF, encoded words).
"""

from __future__ import annotations

import os
import random
import sys
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from mails import make_mail  # noqa: E402

DIRECTOR = "alice@cafemetrie.example"
TO = f"Cafémétrie <{DIRECTOR}>"

FIRST = [
    "Élodie", "Léa", "Chloé", "Inès", "Manon", "Camille", "Hélène", "Margaux", "Zoé", "Anaïs",
    "Théo", "Hugo", "Lucas", "Jérôme", "François", "Benoît", "Noé", "Gaëtan", "Raphaël", "Loïc",
]  # fmt: skip
LAST = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
]  # fmt: skip
DOMAINS = [
    "orange.fr",
    "gmail.com",
    "free.fr",
    "laposte.net",
    "sfr.fr",
    "wanadoo.fr",
    "opco-ep.example",
    "mairie-lyon.example",
]
TRAININGS = [
    "Excel avancé", "Management d'équipe", "Anglais professionnel B2", "Sauveteur secouriste du travail",
    "Prise de parole en public", "Comptabilité générale", "Habilitation électrique", "Gestion du stress",
]  # fmt: skip
SUBJECTS = [
    "Réclamation concernant la formation {t}",
    "Problème d'attestation de fin de formation — {t}",
    "Facture erronée pour la session {t}",
    "Salle inadaptée lors de la session {t} du {d}",
    "Demande de remboursement : {t}",
    "Formateur absent le {d} ({t})",
    "Question sur mon inscription à « {t} »",
    "Mécontentement suite à la formation {t}",
]
SENTENCES = [
    "Je me permets de vous écrire au sujet de la formation « {t} » à laquelle j'ai participé le {d}.",
    "La salle prévue était trop petite pour les quatorze participants et le vidéoprojecteur ne fonctionnait pas.",
    "Malgré plusieurs relances téléphoniques, je n'ai toujours pas reçu mon attestation de fin de formation.",
    "Mon employeur attend ce document pour la prise en charge par l'OPCO, ce qui me met dans une situation délicate.",
    "Le support de cours distribué ne correspondait pas au programme annoncé sur votre site internet.",
    "Par ailleurs, la facture n° FA-2026-{n} mentionne deux journées alors que la session n'en comptait qu'une.",
    "Je souhaiterais savoir quelles mesures vous comptez prendre pour que cela ne se reproduise pas.",
    "Le formateur était compétent, mais les horaires ont été modifiés la veille sans explication.",
    "Plusieurs stagiaires ont dû partir avant la fin faute de navette depuis la gare.",
    "Je reste à votre disposition pour tout complément d'information et vous remercie de votre retour rapide.",
    "L'accès pour les personnes à mobilité réduite n'était pas assuré : l'ascenseur était en panne depuis une semaine.",
    "Nous avions pourtant signalé ce besoin lors de l'inscription, par courriel et par téléphone.",
    "Pourriez-vous me confirmer la date de la prochaine session et les modalités de rattrapage ?",
    "Vous trouverez ci-dessous le détail des dépenses engagées (transport, repas, hébergement).",
    "En l'absence de réponse sous quinze jours, je me verrai contrainte de saisir le financeur.",
    "Je tiens à souligner que l'accueil sur place a été chaleureux, ce qui rend la situation plus regrettable encore.",
]
CLOSINGS = [
    "Cordialement,",
    "Bien cordialement,",
    "Meilleures salutations,",
    "Dans l'attente de votre réponse, cordialement,",
]


@dataclass(frozen=True)
class Mail:
    kind: str  # plain, attachment, reply, ooo, newsletter
    raw: bytes
    internaldate: datetime


def _paragraphs(rng: random.Random, target_chars: int, training: str, day: str) -> list[str]:
    paragraphs: list[str] = []
    size = 0
    while size < target_chars:
        count = rng.randint(2, 4)
        text = " ".join(
            rng.choice(SENTENCES).format(t=training, d=day, n=rng.randint(1000, 9999)) for _ in range(count)
        )
        paragraphs.append(text)
        size += len(text) + 2
    return paragraphs


def _html(paragraphs: list[str], closing: str, name: str) -> str:
    body = "".join(f'<p style="margin:0 0 12px 0">{p}</p>\n' for p in paragraphs)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="font-family:Calibri,Arial,sans-serif;font-size:11pt">\n<div>{body}'
        f"<p>{closing}<br>{name}</p></div></body></html>"
    )


class MixGenerator:
    """Generates the mix in order; `count` mails, reproducible for a given seed."""

    PATTERN = ["plain"] * 14 + ["attachment"] * 2 + ["reply"] * 2 + ["ooo", "newsletter"]

    def __init__(self, seed: int = 7, attachment_bytes: int = 100 * 1024, now: datetime | None = None) -> None:
        self.rng = random.Random(seed)
        self.attachment_bytes = attachment_bytes
        self.now = now or datetime.now(UTC).replace(microsecond=0)
        self.counter = 0
        self.originals: list[tuple[str, str, str, str]] = []  # (sender, subject, message_id, first paragraph)

    def _sender(self) -> tuple[str, str]:
        self.counter += 1
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        ascii_first = unicodedata.normalize("NFKD", first).encode("ascii", "ignore").decode()
        ascii_last = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode()
        address = f"{ascii_first.lower()}.{ascii_last.lower()}.{self.counter}@{self.rng.choice(DOMAINS)}"
        return f"{first} {last}", address

    def mails(self, count: int) -> list[Mail]:
        kinds: list[str] = []
        while len(kinds) < count:
            block = list(self.PATTERN)
            self.rng.shuffle(block)
            kinds.extend(block)
        kinds = kinds[:count]
        # Reception dates: spread over the last 20 days, oldest first (UID order = arrival order).
        start = self.now - timedelta(days=20)
        step = timedelta(days=20) / max(count, 1)
        result = []
        for index, kind in enumerate(kinds):
            if kind == "reply" and not self.originals:
                kind = "plain"
            when = start + step * index
            result.append(Mail(kind, self.one(kind, when), when))
        return result

    def one(self, kind: str, when: datetime) -> bytes:
        rng = self.rng
        date = when - timedelta(seconds=rng.randint(5, 300))
        if kind in ("plain", "attachment"):
            name, address = self._sender()
            training = rng.choice(TRAININGS)
            day = f"{rng.randint(1, 28)}/{rng.randint(1, 12):02d}/2026"
            subject = rng.choice(SUBJECTS).format(t=training, d=day)
            paragraphs = _paragraphs(rng, 1450, training, day)
            closing = rng.choice(CLOSINGS)
            text = "Bonjour,\n\n" + "\n\n".join(paragraphs) + f"\n\n{closing}\n{name}\n"
            attachments = []
            if kind == "attachment":
                if rng.random() < 0.5:
                    attachments = [("attestation-scannée.pdf", os.urandom(self.attachment_bytes), "application/pdf")]
                else:
                    attachments = [("photo_salle.jpg", os.urandom(self.attachment_bytes), "image/jpeg")]
            message_id = f"<{rng.getrandbits(64):016x}.{self.counter}@{address.split('@')[1]}>"
            self.originals.append((f"{name} <{address}>", subject, message_id, paragraphs[0]))
            return make_mail(
                f"{name} <{address}>",
                TO,
                subject,
                text,
                message_id=message_id,
                date=date,
                html=_html(paragraphs, closing, name),
                attachments=attachments,
                extra_headers=[("X-Mailer", "Microsoft Outlook 16.0"), ("Content-Language", "fr-FR")],
            )
        if kind == "reply":
            sender, subject, original_id, first = self.originals.pop(rng.randrange(len(self.originals)))
            quoted = "\n".join("> " + line for line in first.splitlines())
            text = (
                "Bonjour,\n\nJe me permets de relancer ma demande ci-dessous, restée sans réponse à ce jour.\n"
                "Merci de me tenir informée.\n\nCordialement\n\n"
                f"Le {date:%d/%m/%Y à %H:%M}, {sender} a écrit :\n{quoted}\n"
            )
            return make_mail(
                sender,
                TO,
                f"RE: {subject}",
                text,
                in_reply_to=original_id,
                references=[original_id],
                date=date,
            )
        if kind == "ooo":
            name, address = self._sender()
            return make_mail(
                f"{name} <{address}>",
                TO,
                "Réponse automatique : absence du bureau",
                f"Bonjour,\n\nJe suis absente du bureau jusqu'au lundi {rng.randint(1, 28)} et n'aurai qu'un accès "
                "limité à ma messagerie. Pour toute urgence, merci de contacter l'accueil au 04 72 00 00 00.\n\n"
                f"Cordialement,\n{name}\n",
                date=date,
                extra_headers=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")],
            )
        if kind == "newsletter":
            paragraphs = _paragraphs(rng, 3500, "Actualités de la formation professionnelle", "ce mois-ci")
            return make_mail(
                "La lettre de Centre Formation Info <newsletter@lettre.formation-info.example>",
                DIRECTOR,
                f"Votre lettre d'information n° {rng.randint(100, 999)} : réforme, financements, agenda",
                "\n\n".join(paragraphs),
                date=date,
                html=_html(paragraphs, "L'équipe de la lettre", "Centre Formation Info"),
                extra_headers=[
                    ("List-Id", "Lettre d'information <lettre.formation-info.example>"),
                    ("List-Unsubscribe", "<https://lettre.formation-info.example/desinscription?u=12345>"),
                    ("Precedence", "bulk"),
                ],
            )
        raise ValueError(kind)


def large_attachment_mail(size: int) -> bytes:
    """One claimant mail with a `size`-byte attachment (incompressible: a scanned file)."""
    generator = MixGenerator(seed=11)
    name, address = generator._sender()
    return make_mail(
        f"{name} <{address}>",
        TO,
        "Réclamation : pièces justificatives (dossier complet scanné)",
        "Bonjour,\n\nVeuillez trouver ci-joint l'ensemble des pièces justificatives scannées.\n\nCordialement,\n"
        + name,
        attachments=[("dossier-complet-scanné.pdf", os.urandom(size), "application/pdf")],
    )


def old_mail_templates(count: int, seed: int = 3) -> list[bytes]:
    """`count` distinct ordinary mails (no attachment) whose Message-ID can be stamped: see `stamp`."""
    generator = MixGenerator(seed=seed)
    templates = []
    for index in range(count):
        kind = "newsletter" if index % 10 == 9 else "plain"
        raw = generator.one(kind, generator.now - timedelta(days=400))
        # Replace the Message-ID by a fixed-width placeholder so copies can be made unique cheaply.
        start = raw.index(b"\r\nMessage-ID: ") + len(b"\r\nMessage-ID: ")
        end = raw.index(b"\r\n", start)
        templates.append(raw[:start] + b"<old-XXXXXXXXXX@archive.example>" + raw[end:])
    return templates


def stamp(template: bytes, number: int) -> bytes:
    return template.replace(b"XXXXXXXXXX", b"%010d" % number, 1)
