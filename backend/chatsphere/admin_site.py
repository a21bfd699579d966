"""Django's admin with its login form rate-limited as `POST /api/token/` is.

The admin's login checks a password like the API's does, so it gets the same limits, counted in the same
windows (chatsphere/services/rate_limits.py): guesses cannot double by alternating between the two doors.
"""

import math
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import status
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from chatsphere.api.errors import error_body
from chatsphere.services.rate_limits import login_attempt_record


class ChatSphereAdminSite(admin.AdminSite):
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST":
            wait = login_attempt_record(
                # DRF's reading of the client address (DJANGO_NUM_PROXIES), as the API's login counts it.
                address=str(BaseThrottle().get_ident(Request(request))),
                username=request.POST.get("username", ""),
            )
            if wait is not None:
                seconds = math.ceil(wait)
                message = f"Too many login attempts. Try again in {seconds} seconds."
                response = JsonResponse(
                    error_body("throttled", message), status=status.HTTP_429_TOO_MANY_REQUESTS
                )
                response["Retry-After"] = str(seconds)
                return response
        return super().login(request, extra_context)
