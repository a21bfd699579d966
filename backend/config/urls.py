from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import TemplateView

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("api/", include("chatsphere.api.urls")),
    # The web app: one page whose modules talk to /api/ (backend/chatsphere/static/chatsphere/).
    path("", TemplateView.as_view(template_name="chatsphere/index.html"), name="app"),
]
# MEDIA_ROOT is never served, not even with DEBUG: uploads are private to their owner, and the API
# has no route that hands them out.

# Django's own error pages are HTML; API clients get the one JSON error shape instead.
handler400 = "chatsphere.api.errors.json_handler400"
handler403 = "chatsphere.api.errors.json_handler403"
handler404 = "chatsphere.api.errors.json_handler404"
handler500 = "chatsphere.api.errors.json_handler500"
