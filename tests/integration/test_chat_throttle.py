"""The chat endpoint's per-user rate limit, counted in the Redis cache shared by every Django process."""

import httpx
import pytest

from tests.integration.conftest import CHAT_LIMIT_PER_MINUTE
from tests.integration.helpers import chat, create_bot, start_conversation
from testsupport.stack.plugin import AccountFactory

pytestmark = pytest.mark.slow


def test_chat_answers_up_to_the_limit_then_429_with_retry_after(user_client: httpx.Client):
    conversation_id = start_conversation(user_client, bot_id=create_bot(user_client))

    within_limit = [chat(user_client, conversation_id, f"question {n}") for n in range(CHAT_LIMIT_PER_MINUTE)]
    over_limit = chat(user_client, conversation_id, "one too many")

    assert [answer.status_code for answer in within_limit] == [200] * CHAT_LIMIT_PER_MINUTE
    assert over_limit.status_code == 429, over_limit.text
    assert 0 < int(over_limit.headers["Retry-After"]) <= 60
    assert over_limit.json()["error"]["code"] == "throttled"


def test_the_limit_is_per_user(make_account: AccountFactory):
    busy, fresh = make_account().client, make_account().client
    busy_conversation = start_conversation(busy, bot_id=create_bot(busy))
    for n in range(CHAT_LIMIT_PER_MINUTE + 1):
        chat(busy, busy_conversation, f"question {n}")
    fresh_conversation = start_conversation(fresh, bot_id=create_bot(fresh))

    assert chat(busy, busy_conversation, "still throttled?").status_code == 429
    assert chat(fresh, fresh_conversation, "my first question").status_code == 200
