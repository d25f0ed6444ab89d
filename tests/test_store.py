"""The store on both databases: case numbers stay unique when processes race for them."""

import importlib.util
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from subprocess import run

import pytest
from e2e import invoke, offline_config
from sqlalchemy import inspect, text

from inboxbot.domain.vocabulary import ActionKind, ActionStatus, CaseStatus, Channel, Kind, Nature, Priority
from inboxbot.store.models import UnknownTerm
from inboxbot.store.repository import Store, Unit, create_store_engine


def test_case_numbers_are_unique_per_year_under_concurrency(database_url: str) -> None:
    store = Store.open(database_url)
    try:

        def allocate(_: int) -> list[str]:
            numbers = []
            for _ in range(10):
                with store.unit() as unit:
                    numbers.append(unit.next_case_number(2026))
            return numbers

        with ThreadPoolExecutor(max_workers=4) as pool:
            numbers = [n for batch in pool.map(allocate, range(4)) for n in batch]
        assert sorted(numbers) == [f"2026-{i:04d}" for i in range(1, 41)]
        with store.unit() as unit:
            assert unit.next_case_number(2027) == "2027-0001"  # a new year starts again at 1
            assert unit.next_case_number(2026) == "2026-0041"
    finally:
        store.close()


def test_migrating_twice_is_harmless(database_url: str) -> None:
    Store.open(database_url).close()
    store = Store.open(database_url)
    with store.unit() as unit:
        assert unit.cases() == []
    store.close()


def test_the_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from inboxbot.store.models import Base

    store = Store(create_store_engine(database_url))
    try:
        store.migrate(new_at_once=False)
        with store.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        store.close()


def _schema(url: str) -> dict[str, object]:
    """Tables, columns, keys, indexes and the recorded revision, as the database reports them."""
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            schema: dict[str, object] = {}
            for table in found.get_table_names():
                schema[table] = (
                    [(c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in found.get_columns(table)],
                    found.get_pk_constraint(table)["constrained_columns"],
                    sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)),
                    sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
                    sorted(
                        (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                        for f in found.get_foreign_keys(table)
                    ),
                )
            schema["revision"] = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            return schema
    finally:
        engine.dispose()


def test_a_new_database_made_at_once_is_the_one_the_migrations_make(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    at_once = Store.open(database_url)
    at_once.close()
    if database_url.startswith("sqlite"):
        migrated_url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        migrated_url = request.getfixturevalue("postgres_server").create_database(f"m_{uuid.uuid4().hex[:16]}")
    migrated = Store(create_store_engine(migrated_url))
    migrated.migrate(new_at_once=False)
    migrated.close()
    assert _schema(database_url) == _schema(migrated_url)
    # What an existing database meets next: the newest revision, nothing left for alembic to do.
    again = Store.open(database_url)
    with again.unit() as unit:
        assert unit.cases() == []
    again.close()


def test_the_newest_revision_is_read_from_the_migration_files(tmp_path: Path) -> None:
    from inboxbot.store.repository import MIGRATIONS
    from inboxbot.store.schema import head_revision

    files = sorted((MIGRATIONS / "versions").glob("0*.py"))
    assert head_revision(MIGRATIONS / "versions") == files[-1].name.split("_")[0]
    for name, source in {
        "a.py": 'revision = "a"\ndown_revision = None\n',
        "b.py": 'revision: str = "b"\ndown_revision: str | None = "a"\n',
        "c.py": "revision = 'c'\ndown_revision = 'a'\n",
    }.items():
        (tmp_path / name).write_text(source)
    assert head_revision(tmp_path) is None  # two heads: alembic decides
    (tmp_path / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')
    assert head_revision(tmp_path) == "d"


def _before_digest_indexes() -> str:
    """The revision the digest's indexes migration applies to, read from that migration."""
    from inboxbot.store.repository import MIGRATIONS

    (path,) = (MIGRATIONS / "versions").glob("*_digest_indexes.py")
    spec = importlib.util.spec_from_file_location("digest_indexes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.down_revision)


def test_a_new_or_up_to_date_database_opens_without_alembic_and_an_older_one_is_upgraded(tmp_path: Path) -> None:
    """The usual start reads the version with one SELECT, a first one creates the newest schema at
    once; a schema behind the files is still migrated."""
    url = f"sqlite:///{tmp_path / 'inboxbot.db'}"
    probe = (
        "import sys; from inboxbot.store.repository import Store; "
        f"Store.open({url!r}).close(); print('alembic' in sys.modules)"
    )
    for _ in ("new", "up to date"):
        assert run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False"
    store = Store.open(url)
    with store.engine.begin() as connection:
        # As a database migrated up to the revision before the digest's indexes (and what followed).
        indexes = ("ix_cases_created_at", "ix_mails_outcome_created", "ix_outbox_purpose_created")
        for index in (*indexes, "ix_outbox_recipient_key_created"):
            connection.execute(text(f"DROP INDEX {index}"))
        connection.execute(text("ALTER TABLE outbox DROP COLUMN recipient_key"))
        # Nor the columns of what the recognizer read in each mail, which came after them.
        for column in ("kind", "channel", "words", "score", "excerpt", "spam", "claimant", "claimant_name"):
            connection.execute(text(f"ALTER TABLE mails DROP COLUMN {column}"))
        connection.execute(text("DROP TABLE risks"))
        connection.execute(text("ALTER TABLE outbox DROP COLUMN text"))
        for column in ("acknowledgement_means", "response_means", "response_note", "received_from", "merged_into"):
            connection.execute(text(f"ALTER TABLE cases DROP COLUMN {column}"))
        connection.execute(text("DROP INDEX ix_mails_joined_to"))
        connection.execute(text("ALTER TABLE mails DROP COLUMN joined_to"))
        connection.execute(text("ALTER TABLE mails DROP COLUMN notes"))
        connection.execute(
            text("UPDATE alembic_version SET version_num = :before"), {"before": _before_digest_indexes()}
        )
    store.close()
    store = Store.open(url)
    try:
        with store.engine.connect() as connection:
            indexes = {i["name"] for i in inspect(connection).get_indexes("outbox")}
            assert {"ix_outbox_purpose_created", "ix_outbox_recipient_key_created"} <= indexes
            assert "excerpt" in {c["name"] for c in inspect(connection).get_columns("mails")}
            assert {"response_means", "received_from"} <= {c["name"] for c in inspect(connection).get_columns("cases")}
            assert "text" in {c["name"] for c in inspect(connection).get_columns("outbox")}
            assert {"joined_to", "notes"} <= {c["name"] for c in inspect(connection).get_columns("mails")}
    finally:
        store.close()


def _an_incident_with_an_action(unit: Unit, now: datetime) -> None:
    opened = unit.open_case(
        number="2026-0001",
        kind=Kind.ALEA,
        channel=Channel.THIRD_PARTY,
        claimant="lea@example.fr",
        claimant_name="Léa",
        subject="Panne",
        received_at=now,
        acknowledge_due=date(2026, 12, 28),
        response_due=date(2027, 1, 6),
        nature=Nature.MATERIELLE,
        priority=Priority.URGENTE,
        rules_hit=(),
        now=now,
    )
    unit.add_action(opened.id, ActionKind.CORRECTIVE, "Réparer la machine", now)


def test_the_vocabulary_is_stored_as_its_values_on_both_databases(database_url: str) -> None:
    """Terms are StrEnums: a driver that wrote an Enum's name (`TODO`, `THIRD_PARTY`) would leave rows
    that no query, rule file or earlier database reads as the same term."""
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    store = Store.open(database_url)
    try:
        with store.unit() as unit:
            _an_incident_with_an_action(unit, now)
        with store.engine.connect() as connection:
            row = connection.execute(text("SELECT kind, channel, priority, status FROM cases")).one()
            action = connection.execute(text("SELECT kind, status FROM actions")).one()
        assert tuple(row) == ("alea", "third_party", "urgente", "open")
        assert tuple(action) == ("corrective", "todo")
    finally:
        store.close()


def test_the_store_reads_terms_back_and_names_the_column_of_a_value_no_term_has(
    database_url: str, tmp_path: Path
) -> None:
    """A row written by hand or by another version, with a value the vocabulary does not know: every
    command that reads it says which column holds what, in one line, instead of failing later in a
    template or an export with a traceback that names neither."""
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    store = Store.open(database_url)
    try:
        with store.unit() as unit:
            _an_incident_with_an_action(unit, now)
        with store.reading() as unit:
            (case,) = unit.cases()
            (detail,) = unit.case_details([case])
        # Terms, not bare strings: their French is at hand for whoever renders them.
        assert (case.kind, case.status, case.channel, case.nature) == (
            Kind.ALEA,
            CaseStatus.OPEN,
            Channel.THIRD_PARTY,
            Nature.MATERIELLE,
        )
        assert (case.kind.label, case.nature.label) == ("aléa", "matérielle")
        assert (detail.actions[0].kind, detail.actions[0].status) == (ActionKind.CORRECTIVE, ActionStatus.TODO)

        with store.engine.begin() as connection:
            connection.execute(text("UPDATE cases SET nature = 'plomberie'"))
        with store.reading() as unit, pytest.raises(UnknownTerm, match=r"^cases\.nature holds 'plomberie', which"):
            unit.cases()
    finally:
        store.close()

    config = offline_config(tmp_path, database_url)
    for command in (
        ("cases", "list"),
        ("cases", "show", "2026-0001"),
        ("register", "export", "--format", "csv"),
        ("register", "export", "--format", "xlsx", "--output", str(tmp_path / "registre.xlsx")),
    ):
        result = invoke(config, *command)
        assert result.code == 2, command
        assert result.err.strip().splitlines()[-1] == (
            "inboxbot: cases.nature holds 'plomberie', which is none of "
            "organisationnelle, humaine, materielle, environnementale"
        ), command
    assert not (tmp_path / "registre.xlsx").exists()
