"""WSGI entry point, for tools that want one; production runs config.asgi under uvicorn."""

import os

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = StaticFilesHandler(get_wsgi_application())
