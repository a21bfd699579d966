from django.apps import AppConfig


class ChatsphereConfig(AppConfig):
    name = "chatsphere"
    verbose_name = "ChatSphere"
