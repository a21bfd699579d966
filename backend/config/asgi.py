"""ASGI entry point, the production server: `uvicorn config.asgi:application` (scripts/run.sh, Dockerfile).

Static files (the admin's, Swagger UI's) are served from the installed apps by Django's own ASGI handler:
WhiteNoise's middleware is synchronous, and one synchronous middleware makes Django run every request,
the async chat view included, on a thread of its own for its whole duration.
"""

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = ASGIStaticFilesHandler(get_asgi_application())
