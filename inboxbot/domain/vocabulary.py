"""The procedure's words, defined once: each term's value (in the database, the rules, the commands,
the exports' data) and the French the director, a claimant or an auditor reads for it.

A term is a `StrEnum`, so it is its value wherever a string is expected (a database column, JSON, a
template, a rule file), and `.label` is its French. Mail commands accept more ways of typing each
term (synonyms, English); those are the command table's, not the vocabulary's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class Term(StrEnum):
    """A value of the procedure with its French label (and, for some, a shorter or phrased form)."""

    label: str
    brief: str

    def __new__(cls, value: str, label: str = "", brief: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label or value
        member.brief = brief or member.label
        return member

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {member.value: member.label for member in cls}

    @classmethod
    def briefs(cls) -> dict[str, str]:
        return {member.value: member.brief for member in cls}


class Kind(Term):
    """What a case is, in the procedure's three words."""

    RECLAMATION = "reclamation", "réclamation"
    DIFFICULTE = "difficulte", "difficulté"
    ALEA = "alea", "aléa"


class Channel(Term):
    """How a case reached the organisation; `brief` is the digest's one-word form."""

    EMAIL = "email", "e-mail"
    FORM = "form", "formulaire en ligne", "formulaire"
    ORAL = "oral", "oral"
    POST = "post", "courrier"
    THIRD_PARTY = "third_party", "transmise par un tiers", "transmis"


class Means(Term):
    """How an acknowledgement or an answer was made when it was not inboxbot's own mail;
    `brief` is the phrase a sentence uses (« accusé de réception fait par courrier »)."""

    EMAIL = "email", "e-mail de la directrice", "par e-mail"
    POST = "post", "courrier", "par courrier"
    PHONE = "phone", "téléphone", "par téléphone"
    HAND = "hand", "main propre", "en main propre"
    OTHER = "other", "autre moyen", "par un autre moyen"


class Stakeholder(Term):
    APPRENANT = "apprenant"
    ENTREPRISE = "entreprise"
    FINANCEUR = "financeur"
    FORMATEUR = "formateur"
    PARTENAIRE = "partenaire"
    AUTRE = "autre"


class Nature(Term):
    ORGANISATIONNELLE = "organisationnelle"
    HUMAINE = "humaine"
    MATERIELLE = "materielle", "matérielle"
    ENVIRONNEMENTALE = "environnementale"


class Priority(Term):
    BASSE = "basse"
    NORMALE = "normale"
    HAUTE = "haute"
    URGENTE = "urgente"


class CaseStatus(Term):
    OPEN = "open", "ouverte"
    CLOSED = "closed", "clôturée"


class ActionKind(Term):
    CAUSE = "cause", "cause profonde"
    CORRECTIVE = "corrective", "action corrective"
    PREVENTIVE = "preventive", "action préventive"
    MEDIATION = "mediation", "médiation"
    URGENT = "urgent", "mesure d'urgence"


class ActionStatus(Term):
    TODO = "todo", "à faire"
    DOING = "doing", "en cours"
    DONE = "done", "faite"
    DROPPED = "dropped", "abandonnée"


class RuleAction(Term):
    """What a rule in rules/ decides for a mail."""

    CLAIM = "claim"
    INCIDENT = "incident"
    IGNORE = "ignore"
    TRIAGE = "triage"


class FolderRole(Term):
    """Which of the director's folders a mail was read in."""

    INBOX = "inbox"
    SENT = "sent"


class OutboxStatus(Term):
    """Where a mail inboxbot sends stands (not to be confused with the Sent folder)."""

    PENDING = "pending", "en attente"
    SENT = "sent", "envoyé"
    FAILED = "failed", "échec"


class Direction(Term):
    """Which way a message of a case's exchange log went."""

    IN = "in", "reçu"
    OUT = "out", "envoyé"


class OutagePart(Term):
    """What an outage stopped: reading the mailbox, or sending mail; the label says it as she would."""

    READING = "reading", "la lecture de votre boîte aux lettres"
    SENDING = "sending", "l'envoi des messages"


class MailOutcome(Term):
    """What became of a mail read in her mailbox (`inboxbot mails list`), in the director's words."""

    OPENED = "opened", "dossier ouvert"
    ATTACHED = "attached", "ajouté au dossier"
    CANDIDATE = "candidate", "présenté à la directrice « à qualifier » (sans accusé de réception)"
    JOINED = "joined", "joint au message déjà « à qualifier » du même auteur"
    DISMISSED = "dismissed", "écarté par la directrice"
    IGNORED = "ignored", "laissé de côté (aucune règle ne le concerne)"
    TRIAGE = "triage", "à qualifier par la directrice"
    AUTOMATIC = "automatic", "message automatique, sans accusé de réception"
    OWN = "own", "message d'inboxbot lui-même"
    COMMANDS = "commands", "commandes de la directrice, exécutées (sa copie dans « Envoyés » prouve qu'il vient d'elle)"
    AWAITING_PROOF = (
        "awaiting_proof",
        "message à son nom : attend la preuve qu'il vient d'elle (sa copie dans « Envoyés »)",
    )
    SUSPICIOUS = "suspicious", "message à son nom sans preuve qu'il vient d'elle : non exécuté"
    SET_ASIDE = "set_aside", "mis de côté"
    DUPLICATE = "duplicate", "déjà connu"


TRACKED_ACTIONS = (ActionKind.CORRECTIVE, ActionKind.PREVENTIVE, ActionKind.URGENT)
"""Actions with a status to follow; a cause or a mediation is recorded, not done."""
