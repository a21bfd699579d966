"""The one settings module of the Django core, read from the environment (and /work/main/.env if present).

Every variable is listed with a comment in .env.example at the repository root. Unsafe combinations
(no secret key in production, DEBUG with public hosts, nonsensical limits) stop the process at import
time instead of surfacing later as a security hole or a confusing runtime error.
"""

import os
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Lets runtime code subscript Django generics (ModelAdmin[Bot], QuerySet[Bot]) like the type stubs do.
django_stubs_ext.monkeypatch()

BACKEND_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BACKEND_DIR.parent
VAR_DIR = REPO_DIR / "var"

env = environ.Env()
if (REPO_DIR / ".env").is_file():
    # Real environment variables win over the file (read_env does not overwrite them).
    environ.Env.read_env(REPO_DIR / ".env")
# An empty variable means "use the default", as .env.example leaves the optional ones (and as the agent's
# pydantic-settings reads them): without this, DATABASE_URL= would select no database at all.
env.ENVIRON = {name: value for name, value in os.environ.items() if value != ""}

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1", "testserver"})

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required unless DJANGO_DEBUG=true.")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789"  # noqa: S105
elif not DEBUG and (len(SECRET_KEY) < 32 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a random string of at least 32 characters.")

ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
if DEBUG and not set(ALLOWED_HOSTS) <= LOCAL_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG=true leaks internals in error pages; it is only allowed with localhost "
        f"DJANGO_ALLOWED_HOSTS, not {ALLOWED_HOSTS}."
    )
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "chatsphere.apps.ChatSphereAdminConfig",  # django.contrib.admin, its login form rate-limited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Refresh tokens are recorded, so logout, rotation and a password change can revoke them.
    "rest_framework_simplejwt.token_blacklist",
    "chatsphere",
]

# Django's own middlewares, whose hooks run on the event loop instead of a thread each (config/middleware.py).
# Every middleware here must be async-capable: a synchronous one would run each request on a thread of its
# own for its whole duration (static files are served by config/asgi.py instead).
MIDDLEWARE = [
    "config.middleware.SecurityMiddleware",
    "config.middleware.SessionMiddleware",
    "config.middleware.CommonMiddleware",
    "config.middleware.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "config.middleware.XFrameOptionsMiddleware",
]
# Django's deploy checks for these three want its own classes by path; config/middleware.py checks for them
# or their subclasses instead.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The test suites get PostgreSQL through DATABASE_URL, set by the testsupport pytest plugin.
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'chatsphere.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded run serves chats from several server threads: WAL lets reads run beside a write, IMMEDIATE
    # takes the write lock up front (no deadlock-and-fail on upgrade), and synchronous=NORMAL drops the fsync
    # of every commit (in WAL mode a crash of the process loses nothing; a power cut may lose the last
    # commits). A DATABASE_URL that sets any of these keeps its own.
    _sqlite_options = DATABASES["default"].setdefault("OPTIONS", {})
    _sqlite_options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
    _sqlite_options.setdefault("transaction_mode", "IMMEDIATE")
    _sqlite_options.setdefault("timeout", 20)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Under ASGI every request runs its ORM work on a thread of its own, so a persistent connection per thread
# is a new connection per request; a pool hands them over instead. The async chat view returns its
# connection between its database steps, so a chat never holds one across its LLM call.
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=20)
DATABASE_POOL_MIN_SIZE = env.int("DATABASE_POOL_MIN_SIZE", default=1)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE > 0:
    # Django's backend, but a dead pooled connection drains the pool (config/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "config.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django requires it with a pool
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(DATABASE_POOL_MIN_SIZE, DATABASE_POOL_MAX_SIZE),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": 10,
    }
# The threads of a server process that run the async views' database steps (chatsphere/asyncdb.py);
# PostgreSQL's pool must hold at least as many connections.
DATABASE_THREADS = env.int("DATABASE_THREADS", default=4)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Short socket timeouts: a hung Redis must not hang requests (the throttles then fail open).
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1.0, "SOCKET_TIMEOUT": 1.0},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Test suites hash thousands of throwaway passwords, and PBKDF2's deliberate cost buys them nothing
# (cookiecutter-django's test settings make the same swap); tox.ini sets it for the suites that do. A server
# that answers on a public host name never may.
if env.bool("DJANGO_FAST_PASSWORD_HASHER", default=False):
    if not set(ALLOWED_HOSTS) <= LOCAL_HOSTS:
        raise ImproperlyConfigured(
            "DJANGO_FAST_PASSWORD_HASHER is for test runs on localhost, "
            f"not DJANGO_ALLOWED_HOSTS={ALLOWED_HOSTS}."
        )
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Uploads: MAX_UPLOAD_BYTES bounds one document; request bodies may carry that plus form overhead.
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
if MAX_UPLOAD_BYTES <= 0:
    raise ImproperlyConfigured("MAX_UPLOAD_BYTES must be positive.")
UPLOAD_OVERHEAD_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES + UPLOAD_OVERHEAD_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Ingestion bounds: a small upload must not turn into unbounded memory or work (a zip or PDF bomb).
# The .docx limits are read from the zip's directory, before anything is inflated.
MAX_DOCX_UNCOMPRESSED_BYTES = env.int("MAX_DOCX_UNCOMPRESSED_BYTES", default=50 * 1024 * 1024)
MAX_DOCX_MEMBERS = env.int("MAX_DOCX_MEMBERS", default=1000)
MAX_PDF_PAGES = env.int("MAX_PDF_PAGES", default=500)
MAX_SHEET_ROWS = env.int("MAX_SHEET_ROWS", default=50_000)
MAX_PPTX_SLIDES = env.int("MAX_PPTX_SLIDES", default=500)
MAX_DOCUMENT_CHARS = env.int("MAX_DOCUMENT_CHARS", default=2_000_000)
MAX_DOCUMENT_CHUNKS = env.int("MAX_DOCUMENT_CHUNKS", default=3000)
# A document whose ingestion was started this many times without finishing (each start killed its
# worker) ends ERROR instead of being redelivered forever.
MAX_INGEST_ATTEMPTS = env.int("MAX_INGEST_ATTEMPTS", default=3)
# An ingestion whose agent went away mid-document (a crash, a restart: the connection dropped or was refused)
# waits this long for it to answer /health again, then sends the whole document again; 0 gives up at once.
# Celery workers only: an ingestion run in the request (no broker) never waits.
INGEST_AGENT_WAIT_SECONDS = env.float("INGEST_AGENT_WAIT_SECONDS", default=60.0)
if not 0 <= INGEST_AGENT_WAIT_SECONDS < 240:
    raise ImproperlyConfigured("Need 0 <= INGEST_AGENT_WAIT_SECONDS < 240 (inside the task's time limit).")
_INGESTION_LIMITS = (
    MAX_DOCX_UNCOMPRESSED_BYTES, MAX_DOCX_MEMBERS, MAX_PDF_PAGES, MAX_SHEET_ROWS, MAX_PPTX_SLIDES,
    MAX_DOCUMENT_CHARS, MAX_DOCUMENT_CHUNKS, MAX_INGEST_ATTEMPTS,
)  # fmt: skip
if min(_INGESTION_LIMITS) <= 0:
    raise ImproperlyConfigured(
        "The MAX_DOCX_*, MAX_PDF_*, MAX_SHEET_*, MAX_PPTX_*, MAX_DOCUMENT_*, MAX_INGEST_* limits must be > 0."
    )

# Chunking for retrieval. The agent refuses chunks over 20,000 characters.
CHUNK_SIZE = env.int("CHUNK_SIZE", default=1000)
CHUNK_OVERLAP = env.int("CHUNK_OVERLAP", default=150)
if not 0 < CHUNK_SIZE <= 20_000 or not 0 <= CHUNK_OVERLAP < CHUNK_SIZE:
    raise ImproperlyConfigured("Need 0 < CHUNK_SIZE <= 20000 and 0 <= CHUNK_OVERLAP < CHUNK_SIZE.")

CHAT_HISTORY_TURNS = env.int("CHAT_HISTORY_TURNS", default=10)
if not 0 <= CHAT_HISTORY_TURNS <= 50:
    raise ImproperlyConfigured("CHAT_HISTORY_TURNS must be between 0 and 50 (the agent's limit).")
CHAT_THROTTLE_RATE = env.str("CHAT_THROTTLE_RATE", default="30/min")
# Brute-force and flood limits of the unauthenticated auth endpoints (DRF syntax "<n>/<sec|min|hour|day>").
LOGIN_IP_THROTTLE_RATE = env.str("LOGIN_IP_THROTTLE_RATE", default="20/min")
LOGIN_USERNAME_THROTTLE_RATE = env.str("LOGIN_USERNAME_THROTTLE_RATE", default="5/min")
REFRESH_THROTTLE_RATE = env.str("REFRESH_THROTTLE_RATE", default="30/min")
REGISTER_THROTTLE_RATE = env.str("REGISTER_THROTTLE_RATE", default="10/hour")
# The public chat widget: messages per visitor, new conversations per client address, all of a key.
WIDGET_VISITOR_THROTTLE_RATE = env.str("WIDGET_VISITOR_THROTTLE_RATE", default="10/min")
WIDGET_START_THROTTLE_RATE = env.str("WIDGET_START_THROTTLE_RATE", default="20/min")
WIDGET_KEY_THROTTLE_RATE = env.str("WIDGET_KEY_THROTTLE_RATE", default="600/min")

# The agent service. "memory" swaps in the in-process InMemoryAgent (no AI service needed).
AGENT_BACKEND = env.str("AGENT_BACKEND", default="http")
if AGENT_BACKEND not in {"http", "memory"}:
    raise ImproperlyConfigured("AGENT_BACKEND must be 'http' or 'memory'.")
AGENT_SERVICE_URL = env.str("AGENT_SERVICE_URL", default="http://localhost:8001")
AGENT_SERVICE_TOKEN = env.str("AGENT_SERVICE_TOKEN", default="")
if not AGENT_SERVICE_TOKEN and AGENT_BACKEND == "http" and not DEBUG:
    raise ImproperlyConfigured("AGENT_SERVICE_TOKEN is required unless DJANGO_DEBUG=true.")
# Three deadlines: connecting, the first byte of the answer (a hung agent), and the whole call. The total
# stays under a reverse proxy's default 60 s, so the user gets our 503, not the proxy's 504.
AGENT_CONNECT_TIMEOUT_SECONDS = env.float("AGENT_CONNECT_TIMEOUT_SECONDS", default=3.0)
AGENT_FIRST_BYTE_TIMEOUT_SECONDS = env.float("AGENT_FIRST_BYTE_TIMEOUT_SECONDS", default=30.0)
AGENT_TIMEOUT_SECONDS = env.float("AGENT_TIMEOUT_SECONDS", default=45.0)
if min(AGENT_CONNECT_TIMEOUT_SECONDS, AGENT_FIRST_BYTE_TIMEOUT_SECONDS, AGENT_TIMEOUT_SECONDS) <= 0:
    raise ImproperlyConfigured("Agent timeouts must be positive.")
if not AGENT_CONNECT_TIMEOUT_SECONDS <= AGENT_FIRST_BYTE_TIMEOUT_SECONDS <= AGENT_TIMEOUT_SECONDS < 60:
    raise ImproperlyConfigured(
        "Need AGENT_CONNECT_TIMEOUT_SECONDS <= AGENT_FIRST_BYTE_TIMEOUT_SECONDS <= AGENT_TIMEOUT_SECONDS "
        "< 60 (a reverse proxy's default timeout)."
    )
# A streamed answer keeps the proxy's connection alive with heartbeats, which also reset each read's
# deadline: this bounds the whole stream, so an agent that never ends one cannot hold it forever.
AGENT_STREAM_TIMEOUT_SECONDS = env.float("AGENT_STREAM_TIMEOUT_SECONDS", default=300.0)
if AGENT_STREAM_TIMEOUT_SECONDS < AGENT_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("AGENT_STREAM_TIMEOUT_SECONDS must be at least AGENT_TIMEOUT_SECONDS.")
# A chat in flight holds one connection for its whole LLM call: this bounds concurrent chats per process.
AGENT_MAX_CONNECTIONS = env.int("AGENT_MAX_CONNECTIONS", default=200)
# Chunks per /embed_and_store request; the agent takes at most 256. Fault tests lower it: small documents.
AGENT_EMBED_BATCH_CHUNKS = env.int("AGENT_EMBED_BATCH_CHUNKS", default=256)
if not 1 <= AGENT_EMBED_BATCH_CHUNKS <= 256:
    raise ImproperlyConfigured("AGENT_EMBED_BATCH_CHUNKS must be between 1 and 256.")

# Website sources: the crawler fetches only through chatsphere/services/web_fetch.py, which refuses private,
# loopback, link-local and metadata addresses (checked on the address it connects to, on every redirect).
# WEB_FETCH_ALLOW_LOOPBACK lets it reach 127.0.0.0/8 and ::1: for test suites' fixture sites only; a
# server that answers on a public host name never may.
WEB_FETCH_ALLOW_LOOPBACK = env.bool("WEB_FETCH_ALLOW_LOOPBACK", default=False)
if WEB_FETCH_ALLOW_LOOPBACK and not set(ALLOWED_HOSTS) <= LOCAL_HOSTS:
    raise ImproperlyConfigured(
        f"WEB_FETCH_ALLOW_LOOPBACK is for test runs on localhost, not DJANGO_ALLOWED_HOSTS={ALLOWED_HOSTS}."
    )
WEB_FETCH_CONNECT_TIMEOUT_SECONDS = env.float("WEB_FETCH_CONNECT_TIMEOUT_SECONDS", default=5.0)
WEB_FETCH_TIMEOUT_SECONDS = env.float("WEB_FETCH_TIMEOUT_SECONDS", default=15.0)
WEB_FETCH_MAX_BYTES = env.int("WEB_FETCH_MAX_BYTES", default=5 * 1024 * 1024)
WEB_FETCH_MAX_REDIRECTS = env.int("WEB_FETCH_MAX_REDIRECTS", default=5)
CRAWL_MAX_PAGES = env.int("CRAWL_MAX_PAGES", default=200)
CRAWL_MAX_DEPTH = env.int("CRAWL_MAX_DEPTH", default=5)
CRAWL_DELAY_SECONDS = env.float("CRAWL_DELAY_SECONDS", default=1.0)
CRAWL_TIME_LIMIT_SECONDS = env.int("CRAWL_TIME_LIMIT_SECONDS", default=240)
if min(WEB_FETCH_CONNECT_TIMEOUT_SECONDS, WEB_FETCH_TIMEOUT_SECONDS, WEB_FETCH_MAX_BYTES) <= 0:
    raise ImproperlyConfigured("WEB_FETCH_* timeouts and WEB_FETCH_MAX_BYTES must be positive.")
if min(CRAWL_MAX_PAGES, CRAWL_TIME_LIMIT_SECONDS) <= 0 or min(CRAWL_MAX_DEPTH, CRAWL_DELAY_SECONDS) < 0:
    raise ImproperlyConfigured("Need CRAWL_MAX_PAGES, CRAWL_TIME_LIMIT_SECONDS > 0 and the others >= 0.")

# Celery: no broker → tasks run eagerly in-process (embedded run, tests).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "memory://"
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged only once it finished, and re-queued when its worker dies mid-way, so a killed
# worker never loses an upload (ingestion is idempotent: running it twice replaces chunks and vectors).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# How long Redis keeps an unacknowledged task before handing it to another worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600)
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task past the soft limit gets SoftTimeLimitExceeded (the document ends ERROR); past the hard one its
# process is killed. Bounded work (the MAX_* limits above) keeps a normal ingestion far below both.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT_SECONDS", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT_SECONDS", default=360)
if not 0 < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "Need 0 < CELERY_TASK_SOFT_TIME_LIMIT_SECONDS < CELERY_TASK_TIME_LIMIT_SECONDS."
    )
if CRAWL_TIME_LIMIT_SECONDS >= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        "Need CRAWL_TIME_LIMIT_SECONDS < CELERY_TASK_SOFT_TIME_LIMIT_SECONDS: a crawl stops by itself."
    )
# `celery -A config beat` queues the re-crawl of website sources whose schedule is due (their
# recrawl_interval_hours), every CRAWL_SCHEDULE_CHECK_SECONDS; `manage.py recrawl_due_sources` does it once.
CELERY_BEAT_SCHEDULE = {
    "recrawl-due-sources": {
        "task": "chatsphere.recrawl_due_sources",
        "schedule": env.float("CRAWL_SCHEDULE_CHECK_SECONDS", default=900.0),
    }
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["chatsphere.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "chatsphere.api.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=20),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "chatsphere.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    # How many proxies append to X-Forwarded-For: per-IP throttles count the client's address, not the
    # proxy's. 0 (direct clients) ignores the header, which a client could forge.
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=0),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Each refresh hands out a new refresh token and revokes the one used (token_blacklist app).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ChatSphere API",
    "DESCRIPTION": (
        "Build chatbots from your documents. Every non-2xx answer has the shape "
        '{"error": {"code", "message", "details"}}. Another user\'s object is always a 404.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    # Swagger UI's assets come from the drf-spectacular-sidecar package: /api/docs/ works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chatsphere.api.schema.add_links",
    ],
    "ENUM_NAME_OVERRIDES": {
        "DocumentStatusEnum": "chatsphere.models.Document.Status",
        "WebsiteSourceStatusEnum": "chatsphere.models.WebsiteSource.Status",
        "MessageRoleEnum": "chatsphere.models.Message.Role",
        "DependencyStatusEnum": ["ok", "unavailable", "not_configured"],
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Production sits behind a TLS-terminating proxy: HTTPS only, and the proxy's header says a request
    # arrived over HTTPS (so redirects and pagination links are https://). /api/health/ stays reachable
    # over plain HTTP for load balancers.
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
_proxy_ssl_header = env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default="X-Forwarded-Proto")
# Trust the header only with a proxy in front that always sets it; "none" turns it off.
SECURE_PROXY_SSL_HEADER = (
    None
    if _proxy_ssl_header.lower() == "none"
    else ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request line at INFO; keep it at WARNING so agent traffic does not flood logs.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
