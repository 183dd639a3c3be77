"""Deadlock retry: a victim's write runs again; other errors pass through."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from onestack.kernel.db.retry import is_deadlock, retry_on_deadlock


class FakeDriverError(Exception):
    def __init__(self, *args: object, sqlstate: str | None = None) -> None:
        super().__init__(*args)
        self.sqlstate = sqlstate


def db_error(original: Exception) -> sa.exc.DBAPIError:
    return sa.exc.OperationalError("UPDATE ...", {}, original)


def test_recognises_each_engine_and_a_deadlock_hidden_behind_another_error() -> None:
    assert is_deadlock(db_error(FakeDriverError(1213, "Deadlock found")))
    assert is_deadlock(db_error(FakeDriverError("deadlock", sqlstate="40P01")))
    assert is_deadlock(db_error(FakeDriverError("serialize", sqlstate="40001")))
    assert not is_deadlock(db_error(FakeDriverError(1062, "Duplicate entry")))
    try:
        try:
            raise db_error(FakeDriverError(1213, "Deadlock found"))
        except sa.exc.DBAPIError:
            raise db_error(FakeDriverError(1305, "SAVEPOINT does not exist")) from None
    except sa.exc.DBAPIError as hidden:
        assert is_deadlock(hidden)


async def test_a_victim_runs_again_and_other_errors_do_not() -> None:
    calls = []

    @retry_on_deadlock
    async def write(fail_times: int, error: Exception) -> str:
        calls.append(1)
        if len(calls) <= fail_times:
            raise db_error(error)
        return "done"

    assert await write(2, FakeDriverError(1213, "Deadlock found")) == "done"
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(sa.exc.DBAPIError):
        await write(1, FakeDriverError(1062, "Duplicate entry"))
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(sa.exc.DBAPIError):
        await write(99, FakeDriverError(1213, "Deadlock found"))
    assert len(calls) == 5
