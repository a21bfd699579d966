from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from chatsphere.api.views import (
    BotViewSet,
    ConversationViewSet,
    DocumentViewSet,
    HealthView,
    MeView,
    RegisterView,
    TokenObtainView,
    TokenRefreshAccessView,
    UnknownAPIPathView,
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

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
    path("register/", RegisterView.as_view(), name="register"),
    path("token/", TokenObtainView.as_view(), name="token_obtain_pair"),
    path("token/refresh/", TokenRefreshAccessView.as_view(), name="token_refresh"),
    path("users/me/", MeView.as_view(), name="users-me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("widget/<str:key>/", WidgetBotView.as_view(), name="widget-bot"),
    path("widget/<str:key>/conversations/", WidgetConversationStartView.as_view(), name="widget-start"),
    path("widget/<str:key>/conversation/", WidgetConversationView.as_view(), name="widget-conversation"),
    path("widget/<str:key>/chat/", WidgetChatView.as_view(), name="widget-chat"),
    path("", include(router.urls)),
    # Last: whatever matched nothing above is the JSON 404, never Django's HTML page.
    re_path(r"", UnknownAPIPathView.as_view(), name="unknown-api-path"),
]
