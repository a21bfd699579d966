"""One real agent and one real Django per session (testsupport.stack.plugin), on a fresh PostgreSQL
database; users per test. Run with `-p testsupport.services -p testsupport.stack.plugin` (tox -e e2e)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.api import ApiUser
from testsupport.stack.plugin import AccountFactory

UserFactory = Callable[[], ApiUser]


@pytest.fixture
def make_user(make_account: AccountFactory) -> UserFactory:
    """Brand-new registered users: tests share no data."""
    return lambda: ApiUser(make_account())
