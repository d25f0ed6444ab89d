"""The store on both databases: case numbers stay unique when processes race for them."""

from concurrent.futures import ThreadPoolExecutor

from inboxbot.store.repository import Store


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

    store = Store.open(database_url)
    try:
        with store.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        store.close()
