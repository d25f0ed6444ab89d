"""The annual report, read back as the director and an auditor read it.

A year of cases is seeded with every figure worked out by hand in the comments beside it (working
days counted on the French calendar, months in Paris time), the report is produced as HTML and as
Markdown, and the tables are parsed back out of the text and compared with those figures.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from databases import fresh_database_url

from inboxbot.config import Settings, settings_from_mapping
from inboxbot.domain.cases import Action, Case, CaseDetail
from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar
from inboxbot.domain.vocabulary import (
    ActionKind,
    ActionStatus,
    CaseStatus,
    Channel,
    Kind,
    Nature,
    Priority,
    Stakeholder,
)
from inboxbot.exports.report import annual_report, cause_key, review_overdue, year_figures

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2027, 1, 15)
CALENDAR = WorkingDayCalendar.for_country("FR")
POLICY = DuePolicy(CALENDAR, PARIS)
SCRIPT_SUBJECT = "<script>alert('x')</script> Convocation reçue trop tard"
SCRIPT_ACTION = "Envoyer les convocations J-15 <b>automatiquement</b>"
NBSP = "\u00a0"


def paris(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Paris wall-clock time as the store returns instants: aware, in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def action(
    seq: int, kind: str, text: str, status: str | None = None, result: str = "", due: date | None = None
) -> Action:
    at = paris(2026, 1, 1)
    return Action(seq, ActionKind(kind), text, "Alice", due, ActionStatus(status) if status else None, result, at, at)


def make(
    number: str,
    received: datetime,
    *,
    kind: str = "reclamation",
    channel: str = "email",
    stakeholder: str | None = "apprenant",
    nature: str | None = None,
    acknowledged: datetime | None = None,
    responded: datetime | None = None,
    extended_due: date | None = None,
    extension_reason: str = "",
    dismissed: bool = False,
    mark: int | None = None,
    comment: str = "",
    subject: str = "Réclamation",
    training: str = "",
    actions: tuple[Action, ...] = (),
) -> CaseDetail:
    closed = responded if responded is not None else (received + timedelta(days=1) if dismissed else None)
    case = Case(
        id=int(number.replace("-", "")),
        number=number,
        kind=Kind(kind),
        status=CaseStatus.CLOSED if closed else CaseStatus.OPEN,
        channel=Channel(channel),
        claimant=f"{number}@example.fr",
        claimant_name="",
        subject=subject,
        received_at=received,
        acknowledge_due=POLICY.acknowledge_due(received),
        response_due=POLICY.response_due(received),
        acknowledged_at=acknowledged,
        responded_at=responded,
        closed_at=closed,
        nature=Nature(nature) if nature else None,
        priority=Priority.NORMALE,
        rules_hit=(),
        stakeholder=Stakeholder(stakeholder) if stakeholder else None,
        training=training,
        extended_due=extended_due,
        extension_reason=extension_reason,
        dismissed=dismissed,
        feedback_requested_at=responded + timedelta(days=7) if responded and kind == "reclamation" else None,
        satisfaction_mark=mark,
        satisfaction_comment=comment,
    )
    return CaseDetail(case=case, messages=(), events=(), actions=actions)


def year_2026() -> list[CaseDetail]:
    return [
        # Acknowledged the same day (0 working days), answered after 8 days.
        make(
            "2026-0001",
            paris(2026, 1, 12, 9),
            nature="materielle",
            training="Barista niveau 1",
            acknowledged=paris(2026, 1, 12, 9, 5),
            responded=paris(2026, 1, 20),
            mark=4,
            comment="Bonne réactivité",
            actions=(
                action(1, "cause", "Machine à café en panne"),
                action(2, "corrective", "Réparer la machine", "done", "Machine réparée le 15/01"),
            ),
        ),
        # Acknowledged after 18 working days (due after 15): late; answered after 35 days: late.
        make(
            "2026-0002",
            paris(2026, 2, 3, 14),
            channel="form",
            stakeholder="entreprise",
            nature="organisationnelle",
            training="Barista niveau 1",
            acknowledged=paris(2026, 2, 27),
            responded=paris(2026, 3, 10),
            mark=2,
            comment="<script>alert(1)</script> trop lent",
            subject=SCRIPT_SUBJECT,
            actions=(
                action(1, "cause", "Convocation envoyée en retard."),
                action(2, "preventive", SCRIPT_ACTION, "todo", due=date(2026, 6, 30)),
            ),
        ),
        # Thursday 30 April to Monday 4 May: 1 working day (1 May is a public holiday), 4 calendar days.
        make(
            "2026-0003",
            paris(2026, 4, 30, 16),
            kind="difficulte",
            stakeholder="formateur",
            nature="materielle",
            acknowledged=paris(2026, 5, 4, 8, 30),
            responded=paris(2026, 5, 12),
            actions=(
                action(1, "cause", "machine a cafe en PANNE !"),
                action(2, "urgent", "Machine de prêt installée", "done"),
            ),
        ),
        # Answered after 43 days, on time thanks to a 15-day extension (due 30 July instead of 15 July).
        make(
            "2026-0004",
            paris(2026, 6, 15),
            kind="alea",
            channel="oral",
            stakeholder="formateur",
            nature="environnementale",
            acknowledged=paris(2026, 6, 15, 11),
            responded=paris(2026, 7, 28),
            extended_due=date(2026, 7, 30),
            extension_reason="Attente du rapport du centre d'accueil",
            actions=(
                action(1, "cause", "Coupure d'électricité sur le site"),
                action(2, "mediation", "Rencontre avec le centre"),
            ),
        ),
        # Received at 00:30 in Paris on 1 October (still 30 September in UTC): an October case.
        # Never acknowledged; answered after 42 days: late. Closed without a cause.
        make(
            "2026-0005",
            paris(2026, 10, 1, 0, 30),
            channel="third_party",
            stakeholder="financeur",
            nature="materielle",
            responded=paris(2026, 11, 12),
            mark=5,
        ),
        # Monday 9 to Friday 13 November: 3 working days (11 November is a public holiday).
        # Still open, its response due on 9 December: missed.
        make("2026-0006", paris(2026, 11, 9, 9), acknowledged=paris(2026, 11, 13)),
        # Received on 28 December: both deadlines still to come on 15 January 2027.
        make("2026-0007", paris(2026, 12, 28), nature="humaine"),
        # Not a claim after all: counted apart, in no other figure.
        make("2026-0008", paris(2026, 9, 2), stakeholder="autre", subject="Demande de devis", dismissed=True),
    ]


def year_2025() -> list[CaseDetail]:
    return [
        make("2025-0001", paris(2025, 3, 3), acknowledged=paris(2025, 3, 3, 11), responded=paris(2025, 3, 20), mark=5),
        make("2025-0002", paris(2025, 5, 5), acknowledged=paris(2025, 5, 5, 11), responded=paris(2025, 5, 20), mark=3),
        make(
            "2025-0003",
            paris(2025, 6, 2),
            kind="difficulte",
            acknowledged=paris(2025, 6, 3),
            responded=paris(2025, 7, 20),  # 48 days: late
        ),
        make(
            "2025-0004",
            paris(2025, 9, 1),
            kind="alea",
            acknowledged=paris(2025, 10, 1),  # 22 working days: late
            responded=paris(2025, 9, 25),
        ),
    ]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_from_mapping(
        {
            "organisation": {"name": "Cafémétrie", "timezone": "Europe/Paris"},
            "imap": {"host": "127.0.0.1", "port": 1143, "security": "plain", "username": "a@x.fr", "password": "x"},
            "smtp": {"host": "127.0.0.1", "port": 2525, "security": "plain", "from_address": "alice@cafemetrie.fr"},
            "director": {"addresses": ["alice@cafemetrie.fr"]},
            "database": {"url": fresh_database_url(tmp_path)},
            "storage": {"archive_dir": str(tmp_path / "archive")},
        },
        tmp_path,
    )


# --- reading the HTML back ---------------------------------------------------------------------------


class Page(HTMLParser):
    """Every table by id (rows of cell texts), every start tag, every paragraph and list item."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.texts: list[str] = []  # the text of each p and li
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "table":
            self._table = self.tables.setdefault(str(attributes["id"]), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("p", "li"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag in ("p", "li") and self._text is not None:
            self.texts.append("".join(self._text))
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._text is not None:
            self._text.append(data)

    def rows(self, table: str) -> dict[str, list[str]]:
        """The body rows of a table, keyed by their first cell."""
        return {row[0]: row[1:] for row in self.tables[table][1:]}


def read_html(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture
def page(settings: Settings) -> Page:
    return read_html(annual_report(year_2026(), year_2025(), 2026, settings, date(2025, 11, 20), today=TODAY))


def pct(text: str) -> str:
    return text.replace(" %", f"{NBSP}%").replace(" pts", f"{NBSP}pts")


def test_the_summary_counts_dismissed_cases_apart(page: Page) -> None:
    summary = page.rows("synthese")
    assert summary["Dossiers enregistrés (hors classés sans suite)"] == ["7"]
    assert summary["dont réclamations"] == ["5"]
    assert summary["dont difficultés"] == ["1"]
    assert summary["dont aléas"] == ["1"]
    assert summary["Dossiers classés sans suite"] == ["1"]
    assert summary["Dossiers clôturés"] == ["5"]
    assert summary["Dossiers encore ouverts"] == ["2"]
    assert summary["Accusés de réception dans les délais (15 jours ouvrés)"] == [pct("4 / 6 (66,7 %)")]
    assert summary["Réponses dans les délais (30 jours ou délai prolongé)"] == [pct("3 / 6 (50 %)")]
    assert summary["Satisfaction moyenne (sur 5)"] == ["3,67"]
    assert summary["Actions correctives, préventives et mesures d'urgence"] == ["3"]
    assert page.tables["sans-suite"][1] == ["2026-0008", "02/09/2026", "Demande de devis"]


def test_counts_by_kind_nature_channel_stakeholder_and_month(page: Page) -> None:
    assert page.tables["par-type"][0] == ["Type", "Dossiers", "Part"]
    assert page.rows("par-type") == {
        "réclamation": ["5", pct("71,4 %")],
        "difficulté": ["1", pct("14,3 %")],
        "aléa": ["1", pct("14,3 %")],
    }
    assert {k: v[0] for k, v in page.rows("par-nature").items()} == {
        "organisationnelle": "1",
        "humaine": "1",
        "matérielle": "3",
        "environnementale": "1",
        "non renseignée": "1",
    }
    assert list(page.rows("par-nature"))[-1] == "non renseignée"
    assert {k: v[0] for k, v in page.rows("par-canal").items()} == {
        "e-mail": "4",
        "formulaire en ligne": "1",
        "oral": "1",
        "transmise par un tiers": "1",
    }
    assert {k: v[0] for k, v in page.rows("par-partie-prenante").items()} == {
        "apprenant": "3",
        "entreprise": "1",
        "formateur": "2",
        "financeur": "1",
    }
    months = {k: v[0] for k, v in page.rows("par-mois").items()}
    assert list(months) == [
        "janv.",
        "févr.",
        "mars",
        "avr.",
        "mai",
        "juin",
        "juil.",
        "août",
        "sept.",
        "oct.",
        "nov.",
        "déc.",
    ]
    # 2026-0005 arrived at 00:30 on 1 October in Paris, 30 September in UTC; the dismissed case is left out.
    assert months == dict(zip(months, ["1", "1", "0", "1", "0", "1", "0", "0", "0", "1", "1", "1"], strict=True))
    assert page.rows("par-formation") == {"Barista niveau 1": ["2"]}


def test_deadlines_shares_median_and_worst_delays(page: Page) -> None:
    delays = page.tables["delais"]
    assert delays[0] == [
        "Étape",
        "Dossiers comptés",
        "Dans les délais",
        "Hors délai",
        "En attente",
        "Part dans les délais",
        "Délai médian",
        "Délai maximal",
    ]
    # Acknowledgements in working days: 0, 18, 1, 0, 3 (2026-0005 never acknowledged, 2026-0007 not yet due).
    assert delays[1][1:] == ["6", "4", "2", "1", pct("66,7 %"), "1", "18"]
    # Responses in calendar days: 8, 35, 12, 43, 42 (2026-0006 overdue and open, 2026-0007 not yet due).
    assert delays[2][1:] == ["6", "3", "3", "1", pct("50 %"), "35", "43"]
    assert page.tables["hors-delai"][0] == ["Dossier", "Étape", "Échéance", "Accomplie le", "Objet"]
    missed = [(row[0], row[1], row[2], row[3]) for row in page.tables["hors-delai"][1:]]
    assert missed == [
        ("2026-0002", "accusé de réception", "24/02/2026", "27/02/2026"),
        ("2026-0002", "réponse", "05/03/2026", "10/03/2026"),
        ("2026-0005", "accusé de réception", "22/10/2026", "non accomplie"),
        ("2026-0005", "réponse", "30/10/2026", "12/11/2026"),  # 30 days is a Saturday: Friday promised
        ("2026-0006", "réponse", "09/12/2026", "non accomplie"),
    ]


def test_deadlines_of_complaints_are_reported_apart_from_incidents(page: Page) -> None:
    rows = page.tables["delais-par-type"]
    # Réclamations 0001, 0002, 0005, 0006 decided, 0007 pending: acknowledged after 0, 18, 3 working days
    # (0005 never); answered after 8, 35, 42 days (0006 overdue).
    assert rows[1] == ["Réclamations", "accusé de réception", "4", "2", "2", "1", pct("50 %"), "3", "18"]
    assert rows[2] == ["Réclamations", "réponse", "4", "1", "3", "1", pct("25 %"), "35", "42"]
    # The difficulty and the incident kept both deadlines: together they would have hidden that.
    assert rows[3][:7] == ["Aléas et difficultés", "accusé de réception", "2", "2", "0", "0", pct("100 %")]
    assert rows[4][:7] == ["Aléas et difficultés", "réponse", "2", "2", "0", "0", pct("100 %")]
    summary = page.rows("synthese")
    assert summary["Réponses dans les délais : réclamations"] == [pct("1 / 4 (25 %)")]
    assert summary["Réponses dans les délais : aléas et difficultés"] == [pct("2 / 2 (100 %)")]


def test_extensions_and_their_reasons(page: Page) -> None:
    assert page.rows("prolongations") == {
        "2026-0004": ["15/07/2026", "30/07/2026", "15", "Attente du rapport du centre d'accueil"]
    }


def test_satisfaction_count_average_and_distribution(page: Page) -> None:
    assert page.rows("satisfaction") == {
        "Questionnaires envoyés": ["3"],
        "Notes reçues": ["3"],
        "Note moyenne (sur 5)": ["3,67"],
    }
    assert {k: v[0] for k, v in page.rows("satisfaction-repartition").items()} == {
        "5 / 5": "1",
        "4 / 5": "1",
        "3 / 5": "0",
        "2 / 5": "1",
        "1 / 5": "0",
    }
    assert page.rows("satisfaction-basse") == {"2026-0002": ["2", "<script>alert(1)</script> trop lent"]}


def test_recurring_causes_are_grouped_however_they_were_typed(page: Page) -> None:
    causes = page.tables["causes"]
    assert causes[1] == ["Machine à café en panne", "2", "matérielle", "2026-0001, 2026-0003"]
    assert sorted(row[0] for row in causes[2:]) == [
        "Convocation envoyée en retard.",
        "Coupure d'électricité sur le site",
    ]
    assert page.rows("causes-par-nature") == {
        "organisationnelle": ["1", "1"],
        "matérielle": ["2", "2"],
        "environnementale": ["1", "1"],
    }
    assert (
        cause_key("Machine à café  en panne") == cause_key("machine a cafe en PANNE !") != cause_key("Machine à café")
    )


def test_actions_their_status_and_whether_they_worked(page: Page) -> None:
    assert page.rows("actions-synthese") == {
        "action corrective": ["1", "0", "0", "1", "0", "0", "1"],
        "action préventive": ["1", "1", "0", "0", "0", "1", "0"],
        "mesure d'urgence": ["1", "0", "0", "1", "0", "0", "0"],
    }
    detail = {(row[0], row[1]): row for row in page.tables["actions-detail"][1:]}
    assert detail["2026-0001", "2"][2:] == [
        "action corrective",
        "Réparer la machine",
        "Alice",
        "",
        "faite",
        "Machine réparée le 15/01",
        "oui : résultat consigné",
    ]
    assert detail["2026-0002", "2"][3] == SCRIPT_ACTION
    assert detail["2026-0002", "2"][5:] == ["30/06/2026", "à faire", "", "en retard"]
    assert detail["2026-0003", "2"][-1] == "à vérifier : aucun résultat consigné"
    assert any("Médiations conduites : 1." in text for text in page.texts)


def test_change_against_the_previous_year(page: Page) -> None:
    assert page.tables["evolution"][0] == ["Indicateur", "2025", "2026", "Évolution"]
    assert page.rows("evolution") == {
        "Dossiers enregistrés (hors classés sans suite)": ["4", "7", "+3"],
        "dont réclamations": ["2", "5", "+3"],
        "dont difficultés": ["1", "1", "0"],
        "dont aléas": ["1", "1", "0"],
        "Classés sans suite": ["0", "1", "+1"],
        "Accusés de réception dans les délais": [pct("75 %"), pct("66,7 %"), pct("-8,3 pts")],
        "Réponses dans les délais": [pct("75 %"), pct("50 %"), pct("-25 pts")],
        "Satisfaction moyenne (sur 5)": ["4", "3,67", "-0,33"],
        "Actions correctives, préventives et d'urgence": ["0", "3", "+3"],
    }


def test_improvement_leads_follow_from_the_figures(page: Page) -> None:
    leads = "\n".join(page.texts)
    assert "Accusés de réception : 2 hors délai sur 6 (dossiers 2026-0002, 2026-0005)" in leads
    assert "Réponses : 3 hors délai sur 6 (dossiers 2026-0002, 2026-0005, 2026-0006)" in leads
    assert f"Nature la plus fréquente : matérielle (3 dossiers sur 7, {pct('42,9 %')})" in leads
    assert "1 dossier sans nature renseignée" in leads
    assert "Cause récurrente : « Machine à café en panne » (dossiers 2026-0001, 2026-0003)" in leads
    assert "1 réclamation clôturée sans cause profonde consignée (dossier 2026-0005)" in leads
    assert "1 action en retard (2026-0002 n° 2)" in leads
    assert "1 action faite sans résultat consigné (2026-0003 n° 2)" in leads
    assert "1 note de satisfaction de 2 ou moins (dossier 2026-0002)" in leads
    assert f"Hausse des dossiers par rapport à 2025 : +3 ({pct('+75 %')})" in leads
    assert "La procédure doit être revue annuellement" in leads


def test_the_last_review_is_dated_and_flagged_when_old_or_unknown(settings: Settings) -> None:
    old = read_html(annual_report([], [], 2026, settings, date(2025, 11, 20), today=TODAY))
    assert "Dernière revue de la procédure : le 20 novembre 2025." in old.texts
    assert "La procédure doit être revue annuellement : la dernière date de plus d'un an." in old.texts
    unknown = read_html(annual_report([], [], 2026, settings, None, today=TODAY))
    assert "Date de la dernière revue de la procédure : inconnue." in unknown.texts
    assert "La procédure doit être revue annuellement : aucune revue n'est enregistrée." in unknown.texts
    recent = read_html(annual_report([], [], 2026, settings, date(2026, 9, 1), today=TODAY))
    assert not [text for text in recent.texts if "revue annuellement" in text]
    assert not review_overdue(date(2026, 1, 15), TODAY)
    assert review_overdue(date(2026, 1, 14), TODAY)
    assert not review_overdue(date(2027, 2, 28), date(2028, 2, 29))


def test_claimant_text_is_escaped(settings: Settings) -> None:
    text = annual_report(year_2026(), year_2025(), 2026, settings, None, today=TODAY)
    page = read_html(text)
    assert "script" not in page.tags and "b" not in page.tags
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Convocation reçue trop tard" in text
    assert [row[4] for row in page.tables["hors-delai"][1:3]] == [SCRIPT_SUBJECT, SCRIPT_SUBJECT]


def test_the_page_is_self_contained_with_charts(settings: Settings) -> None:
    text = annual_report(year_2026(), year_2025(), 2026, settings, None, today=TODAY)
    page = read_html(text)
    assert text.startswith("<!DOCTYPE html>") and '<html lang="fr">' in text and '<meta charset="utf-8">' in text
    for outside in ("http://", "https://", "src=", "<link", "@import", "url(", "<script"):
        assert outside not in text
    assert {"graphique-mois", "graphique-par-type", "graphique-par-nature"} <= page.ids
    month_chart = re.search(r'<figure id="graphique-mois">(.*?)</figure>', text, re.S)
    assert month_chart is not None
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', month_chart.group(1))]
    assert len(heights) == 12
    assert sum(1 for h in heights if h > 0) == 7 and len({h for h in heights if h > 0}) == 1


def test_an_empty_year_still_reports(settings: Settings) -> None:
    page = read_html(annual_report([], [], 2026, settings, date(2026, 6, 1), today=TODAY))
    assert page.rows("synthese")["Dossiers enregistrés (hors classés sans suite)"] == ["0"]
    assert page.rows("synthese")["Accusés de réception dans les délais (15 jours ouvrés)"] == ["—"]
    assert page.rows("delais")["Accusé de réception (15 jours ouvrés ; délais en jours ouvrés)"][4:] == ["—", "—", "—"]
    assert any(text.startswith("Aucun dossier enregistré en 2026") for text in page.texts)
    assert page.rows("evolution")["Dossiers enregistrés (hors classés sans suite)"] == ["—", "0", "—"]


def test_the_current_year_says_when_its_figures_stop(settings: Settings) -> None:
    page = read_html(annual_report(year_2026(), [], 2026, settings, None, today=date(2026, 12, 31)))
    assert any("Année en cours : données arrêtées au 31/12/2026." in text for text in page.texts)
    # On 31 December 2026, 2026-0006's response (due 9 December) is missed; 2026-0007 is still pending.
    assert page.tables["delais"][2][1:5] == ["6", "3", "3", "1"]


def test_figures_directly() -> None:
    figures = year_figures(year_2026(), 2026, PARIS, CALENDAR, TODAY)
    assert len(figures.cases) == 7 and [c.number for c in figures.dismissed] == ["2026-0008"]
    assert sorted(figures.acknowledgement.delays) == [0, 0, 1, 3, 18]
    assert sorted(figures.response.delays) == [8, 12, 35, 42, 43]
    assert figures.average_mark == pytest.approx(11 / 3)
    # Dismissing a case takes it out of the shares, it does not count as a miss.
    undismissed = [replace(d, case=replace(d.case, dismissed=False)) for d in year_2026()]
    assert year_figures(undismissed, 2026, PARIS, CALENDAR, TODAY).acknowledgement.decided == 7


def test_a_merged_case_is_counted_once_in_the_case_it_joined_not_as_dismissed() -> None:
    """#fusionner closes the duplicate « classée sans suite » in the data; the report must not count
    one complaint sent twice as a second case, nor as one the organisation dismissed."""
    details = year_2026()
    merged = [
        replace(d, case=replace(d.case, dismissed=True, status="closed", merged_into="2026-0001"))
        if d.case.number == "2026-0002"
        else d
        for d in details
    ]
    figures = year_figures(merged, 2026, PARIS, CALENDAR, TODAY)
    assert len(figures.cases) == 6 and [c.number for c in figures.dismissed] == ["2026-0008"]


# --- Markdown --------------------------------------------------------------------------------------


def md_tables(text: str) -> dict[str, list[list[str]]]:
    """Every Markdown table, keyed by its header row's first cell and second cell, cells unescaped."""
    tables: dict[str, list[list[str]]] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        if lines[index].startswith("| ") and index + 1 < len(lines) and lines[index + 1].startswith("|---"):
            rows = []
            while index < len(lines) and lines[index].startswith("|"):
                if not lines[index].startswith("|---"):
                    cells = re.split(r"(?<!\\)\|", lines[index].strip()[1:-1])
                    rows.append([re.sub(r"\\(.)", r"\1", cell.strip()) for cell in cells])
                index += 1
            tables[" / ".join(rows[0][:2])] = rows
        index += 1
    return tables


def test_markdown_carries_the_same_tables(settings: Settings) -> None:
    text = annual_report(year_2026(), year_2025(), 2026, settings, None, "md", today=TODAY)
    assert text.startswith("# Rapport annuel 2026 — réclamations, difficultés et aléas\n")
    tables = md_tables(text)
    assert tables["Étape / Dossiers comptés"][1][1:] == ["6", "4", "2", "1", pct("66,7 %"), "1", "18"]
    assert tables["Étape / Dossiers comptés"][2][1:] == ["6", "3", "3", "1", pct("50 %"), "35", "43"]
    assert tables["Indicateur / 2025"][1] == ["Dossiers enregistrés (hors classés sans suite)", "4", "7", "+3"]
    assert tables["Indicateur / 2025"][8] == ["Satisfaction moyenne (sur 5)", "4", "3,67", "-0,33"]
    assert tables["Type / Dossiers"][1:] == [
        ["réclamation", "5", pct("71,4 %")],
        ["difficulté", "1", pct("14,3 %")],
        ["aléa", "1", pct("14,3 %")],
    ]
    assert tables["Note / Réponses"][1] == ["5 / 5", "1", pct("33,3 %")]
    assert tables["Dossier / N°"][2][3] == SCRIPT_ACTION
    assert "## Pistes d'amélioration" in text
    assert "> **Attention :** La procédure doit être revue annuellement" in text


def test_markdown_escapes_claimant_text(settings: Settings) -> None:
    text = annual_report(year_2026(), year_2025(), 2026, settings, None, "md", today=TODAY)
    assert "<script>" not in text and "<b>" not in text
    assert r"\<script\>alert('x')\</script\> Convocation reçue trop tard" in text
    pipe = make("2026-0009", paris(2026, 3, 3), subject="a | b\n# titre", acknowledged=paris(2026, 4, 30))
    tables = md_tables(annual_report([pipe], [], 2026, settings, None, "md", today=TODAY))
    assert tables["Dossier / Étape"][1] == [
        "2026-0009",
        "accusé de réception",
        "24/03/2026",
        "30/04/2026",
        "a | b # titre",
    ]


def test_unknown_format_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="pdf"):
        annual_report([], [], 2026, settings, None, "pdf", today=TODAY)


# --- quality risks, indicators as data, templates of the organisation's own ----------------------------


def test_the_risk_analysis_quotes_the_organisations_file_and_the_risks_recorded_by_mail(
    settings: Settings, tmp_path: Path
) -> None:
    from inboxbot.config import ReportSettings
    from inboxbot.domain.cases import Risk

    analysis = tmp_path / "analyse-risques.txt"
    analysis.write_text("Risque 1 : une seule salle partenaire.\n\nRisque 2 : formateur unique\nsur le latte art.\n")
    recorded = [Risk(paris(2026, 3, 4, 10), "alice@cafemetrie.fr", "Panne de la machine <b>principale</b>")]
    own = replace(settings, report=ReportSettings(risks_file=analysis))
    page = read_html(annual_report(year_2026(), year_2025(), 2026, own, None, today=TODAY, risks=recorded))
    assert "Risque 1 : une seule salle partenaire." in page.texts
    assert "Risque 2 : formateur unique sur le latte art." in page.texts
    assert page.tables["risques-enregistres"][1] == ["04/03/2026", "Panne de la machine <b>principale</b>"]
    assert "b" not in page.tags  # the director's text is escaped too

    analysis.unlink()
    page = read_html(annual_report(year_2026(), year_2025(), 2026, own, None, today=TODAY))
    assert any("analyse-risques.txt n'a pas pu être lu" in text for text in page.texts)
    assert "risques-enregistres" in page.ids  # and says that nothing was recorded


def test_the_indicators_are_data_the_organisation_can_replace(settings: Settings, tmp_path: Path) -> None:
    page = read_html(annual_report(year_2026(), year_2025(), 2026, settings, None, today=TODAY))
    shipped = page.rows("indicateurs-qualiopi")
    assert shipped["Indicateur 31"][0].startswith("Le prestataire met en œuvre des modalités de traitement")
    assert "risques qualité" in shipped["Indicateur 32"][1]
    (tmp_path / "indicators.toml").write_text(
        '[[indicator]]\nnumber = 32\ntext = "Libellé révisé du référentiel"\n', encoding="utf-8"
    )
    own = replace(settings, templates_dir=tmp_path)
    page = read_html(annual_report(year_2026(), year_2025(), 2026, own, None, today=TODAY))
    assert page.rows("indicateurs-qualiopi") == {"Indicateur 32": ["Libellé révisé du référentiel", ""]}


def test_the_report_is_rendered_from_templates_the_organisation_can_override(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "report.html.j2").write_text(
        "<html><body><h1>{{ document.title }} — version maison</h1>"
        "{% for section in document.sections %}{% for block in section.blocks %}"
        "{% if block.kind == 'chart' %}{{ block | svg }}{% endif %}{% endfor %}{% endfor %}</body></html>\n",
        encoding="utf-8",
    )
    own = replace(settings, templates_dir=tmp_path)
    text = annual_report(year_2026(), year_2025(), 2026, own, None, today=TODAY)
    assert "— version maison</h1>" in text and "<svg" in text  # its charts with it
    markdown = annual_report(year_2026(), year_2025(), 2026, own, None, "md", today=TODAY)
    assert markdown.startswith("# Rapport annuel 2026")  # the shipped Markdown template still serves


def test_a_broken_report_template_of_the_organisation_is_found_by_check(settings: Settings, tmp_path: Path) -> None:
    import jinja2

    from inboxbot.exports.report import check_templates

    check_templates(settings)  # the shipped ones compile
    (tmp_path / "report.md.j2").write_text("{% for section in document.sections %}", encoding="utf-8")
    with pytest.raises(jinja2.TemplateSyntaxError):
        check_templates(replace(settings, templates_dir=tmp_path))


def test_the_organisations_closures_are_named_where_working_days_are_explained(settings: Settings) -> None:
    from inboxbot.config import DeadlineSettings

    closed = replace(settings, deadlines=DeadlineSettings(closures=((date(2026, 8, 3), date(2026, 8, 14)),)))
    text = annual_report(year_2026(), year_2025(), 2026, closed, None, "md", today=TODAY)
    assert "hors jours fériés et fermetures de l'organisme : du 03/08/2026 au 14/08/2026)" in text
    assert "fermetures" not in annual_report(year_2026(), year_2025(), 2026, settings, None, "md", today=TODAY)
