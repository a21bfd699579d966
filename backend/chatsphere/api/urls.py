from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from chatsphere.api.chat import ConversationChatView
from chatsphere.api.views import (
    BotViewSet,
    ConversationViewSet,
    DocumentViewSet,
    HealthView,
    LogoutView,
    MeView,
    RegisterView,
    TokenObtainView,
    TokenRefreshAccessView,
    UnknownAPIPathView,
    WebsiteSourceViewSet,
)
from chatsphere.api.widget import (
    WidgetBotView,
    WidgetChatView,
    WidgetConversationStartView,
    WidgetConversationView,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("bots", BotViewSet, basename="bot")
router.register("documents", DocumentViewSet, basename="document")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("sources", WebsiteSourceViewSet, basename="source")

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
    path("register/", RegisterView.as_view(), name="register"),
    path("token/", TokenObtainView.as_view(), name="token_obtain_pair"),
    path("token/refresh/", TokenRefreshAccessView.as_view(), name="token_refresh"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("users/me/", MeView.as_view(), name="users-me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Async (see api/chat.py), so not a ConversationViewSet action; the router's pk pattern.
    re_path(
        r"^conversations/(?P<pk>[^/.]+)/chat/$", ConversationChatView.as_view(), name="conversation-chat"
    ),
    path("widget/<str:key>/", WidgetBotView.as_view(), name="widget-bot"),
    path("widget/<str:key>/conversations/", WidgetConversationStartView.as_view(), name="widget-start"),
    path("widget/<str:key>/conversation/", WidgetConversationView.as_view(), name="widget-conversation"),
    path("widget/<str:key>/chat/", WidgetChatView.as_view(), name="widget-chat"),
    path("", include(router.urls)),
    # Last: whatever matched nothing above is the JSON 404, never Django's HTML page.
    re_path(r"", UnknownAPIPathView.as_view(), name="unknown-api-path"),
]
