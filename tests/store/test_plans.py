"""generic_plans: statements inside run prepared with a generic plan; outside, nothing changes."""

from __future__ import annotations

from sqlalchemy import text

from auditledger.store.database import Database
from auditledger.store.plans import generic_plans


def test_the_setting_and_the_driver_are_put_back(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.read() as connection:
            if not db.is_postgres:
                with generic_plans(connection) as inside:
                    assert inside.execute(text("SELECT 1")).scalar() == 1
                return
            driver = connection.connection.driver_connection
            threshold = driver.prepare_threshold  # type: ignore[union-attr]
            mode = text("SELECT current_setting('plan_cache_mode')")
            before = connection.execute(mode).scalar()
            with generic_plans(connection) as inside:
                assert inside.execute(mode).scalar() == "force_generic_plan"
                assert driver.prepare_threshold == 0  # type: ignore[union-attr]
                statement = text("SELECT count(*) FROM events WHERE org_id = :org")
                assert inside.execute(statement, {"org": 1}).scalar() == 0
                prepared = inside.execute(
                    text("SELECT generic_plans FROM pg_prepared_statements")
                ).scalars()
                assert any(n >= 1 for n in prepared)
            assert connection.execute(mode).scalar() == before
            assert driver.prepare_threshold == threshold  # type: ignore[union-attr]
    finally:
        db.dispose()
