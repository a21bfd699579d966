"""config/middleware.py: Django's middlewares without thread hops, and the deploy check that sees them."""

import threading

import pytest
from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import AsyncRequestFactory, override_settings

from config.middleware import SessionMiddleware, XFrameOptionsMiddleware, check_protecting_middleware


@pytest.mark.asyncio
async def test_a_middleware_hook_runs_on_the_event_loop_thread() -> None:
    loop_thread = threading.get_ident()
    ran_on: list[int] = []

    class Recording(XFrameOptionsMiddleware):
        def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
            ran_on.append(threading.get_ident())
            return super().process_response(request, response)

    async def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    response = await Recording(view).__acall__(AsyncRequestFactory().get("/"))

    assert ran_on == [loop_thread]
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_changed_session_is_still_saved() -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        await sync_to_async(request.session.__setitem__)("seen", "yes")
        return HttpResponse("ok")

    request = AsyncRequestFactory().get("/")
    response = await SessionMiddleware(view).__acall__(request)

    session_key = response.cookies["sessionid"].value
    stored = await sync_to_async(SessionStore(session_key=session_key).load)()
    assert stored == {"seen": "yes"}


def test_the_deploy_check_accepts_the_subclasses_and_misses_a_removed_protection() -> None:
    assert check_protecting_middleware() == []

    without_csrf = [
        "config.middleware.SecurityMiddleware",
        "config.middleware.XFrameOptionsMiddleware",
    ]
    with override_settings(MIDDLEWARE=without_csrf):
        missing = [message.id for message in check_protecting_middleware()]

    assert missing == ["chatsphere.security.W003"]
