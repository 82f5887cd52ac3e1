"""The private servers of the fault tests start, stop and come back on their port."""

from __future__ import annotations

from redis import Redis
from sqlalchemy import text

from patronauth.adapters.storage.engine import make_engine
from tests.servers import PrivatePostgres, PrivateRedis


def test_private_redis_is_killed_and_restarted_empty(private_redis: PrivateRedis) -> None:
    client = Redis.from_url(private_redis.url)
    client.set("k", "v")
    private_redis.kill()
    assert not private_redis.running
    private_redis.start()
    assert client.get("k") is None  # no persistence: a restart starts empty
    client.close()


def test_private_postgres_keeps_committed_rows_across_an_immediate_restart(
    private_postgres: PrivatePostgres,
) -> None:
    engine = make_engine(private_postgres.url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE kept (n int)"))
        conn.execute(text("INSERT INTO kept VALUES (7)"))
    engine.dispose()
    private_postgres.restart(immediate=True)
    engine = make_engine(private_postgres.url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM kept")).scalar_one() == 7
        assert conn.execute(text("SELECT count(*) FROM patrons")).scalar_one() == 0  # migrated
    engine.dispose()
