"""Django's stock middleware, without a thread hop per hook under ASGI.

Under ASGI, Django's `MiddlewareMixin` runs every `process_request`/`process_response` (and the handler every
synchronous `process_view`) on a thread through `sync_to_async`: with the seven middlewares of a request
that was 15 thread hops, most of Django's own time per chat. None of these hooks blocks (they read headers
and cookies, set headers, and create lazy objects), so they run inline on the event loop. The one exception
is a session that was changed: saving it writes to the database, so only that save goes to a thread.
"""

from collections.abc import Awaitable, Callable
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.checks import CheckMessage, Tags, Warning, register
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware as DjangoXFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.middleware.security import SecurityMiddleware as DjangoSecurityMiddleware
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from chatsphere.asyncdb import in_db_thread


class _InlineHooks(MiddlewareMixin):
    """For a `MiddlewareMixin` whose hooks never block: call them on the event loop, as the sync path does."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await cast(Awaitable[HttpResponseBase], self.get_response(request))
        if hasattr(self, "process_response"):
            response = self._respond(request, response)
            if isinstance(response, Awaitable):
                response = await response
        return response

    def _respond(self, request: HttpRequest, response: HttpResponseBase) -> Any:
        return self.process_response(request, response)  # type: ignore[attr-defined]


class SecurityMiddleware(_InlineHooks, DjangoSecurityMiddleware):
    pass


class CommonMiddleware(_InlineHooks, DjangoCommonMiddleware):
    pass


class CsrfViewMiddleware(_InlineHooks, DjangoCsrfViewMiddleware):
    async def process_view(  # type: ignore[override]  # async, so the handler calls it without a thread
        self, request: HttpRequest, callback: Callable[..., Any], callback_args: Any, callback_kwargs: Any
    ) -> HttpResponseBase | None:
        return super().process_view(request, callback, callback_args, callback_kwargs)


class SessionMiddleware(_InlineHooks, DjangoSessionMiddleware):
    def _respond(self, request: HttpRequest, response: HttpResponse) -> Any:  # type: ignore[override]
        session = getattr(request, "session", None)
        if session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST):
            return in_db_thread(self.process_response)(request, response)
        return self.process_response(request, response)


class AuthenticationMiddleware(_InlineHooks, DjangoAuthenticationMiddleware):
    pass


class MessageMiddleware(_InlineHooks, DjangoMessageMiddleware):
    pass


class XFrameOptionsMiddleware(_InlineHooks, DjangoXFrameOptionsMiddleware):
    pass


# Django's deploy checks look for its own middlewares by dotted path (security.W001-W003, silenced in
# settings); this one accepts them or a subclass, so a missing protection is still reported.
PROTECTIONS = {
    "security.W001": DjangoSecurityMiddleware,
    "security.W002": DjangoXFrameOptionsMiddleware,
    "security.W003": DjangoCsrfViewMiddleware,
}


@register(Tags.security, deploy=True)
def check_protecting_middleware(**kwargs: Any) -> list[CheckMessage]:
    installed = [import_string(path) for path in settings.MIDDLEWARE]
    return [
        Warning(f"No {protection.__name__} (or a subclass of it) in MIDDLEWARE.", id=f"chatsphere.{check_id}")
        for check_id, protection in PROTECTIONS.items()
        if not any(issubclass(middleware, protection) for middleware in installed)
    ]
