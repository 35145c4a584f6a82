"""The one settings module: every deployment difference comes from environment variables."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RELAIS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(exist_ok=True)


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("RELAIS_DEBUG", False)
# A fixed development key only when nothing is configured; production sets its own.
SECRET_KEY = os.environ.get("RELAIS_SECRET_KEY", "relais-insecure-development-key-change-me")
# Fernet keys (comma-separated, newest first) for credentials at rest. Without one, a
# key is derived from SECRET_KEY so that the embedded default runs with no set-up.
RELAIS_ENCRYPTION_KEY = os.environ.get("RELAIS_ENCRYPTION_KEY", "")
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("RELAIS_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("RELAIS_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
RELAIS_BASE_URL = os.environ.get("RELAIS_BASE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # serves the API docs' assets locally: no CDN
    "huey.contrib.djhuey",
    "relais.common",
    "relais.accounts",
    "relais.channels",
    "relais.inbox",
    "relais.transit",
    "relais.triage",
    "relais.wording",
    "relais.incidents",
    "relais.publishing",
    "relais.care",
    "relais.listening",
    "relais.realtime",
    "relais.web",
    "relais.api",
    "relais.connectors.sandbox",
    "relais.connectors.replay",
    "relais.connectors.email",  # relais email_idle
    "relais.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

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
                "relais.web.context_processors.relais",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'relais.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers (the web) and the writer (the worker) work at the same time;
    # IMMEDIATE transactions avoid the "database is locked" upgrade deadlock.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        ),
    }
    # Tests use a file, not shared-cache memory: concurrency tests need real WAL locking.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-relais-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Task queue and live events --------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
HUEY_IMMEDIATE = _env_bool("RELAIS_TASKS_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": "relais",
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": 4, "worker_type": "thread", "max_delay": 1.0},
    }
    RELAIS_BROKER = "redis"
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "relais",
        "filename": str(VAR_DIR / "tasks.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": 2, "worker_type": "thread", "max_delay": 0.5},
    }
    RELAIS_BROKER = "local"
RELAIS_BROKER = os.environ.get("RELAIS_BROKER", RELAIS_BROKER)

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }

# The ingest pipeline: ordered steps, each a dotted path to a callable taking a Batch.
# Triage, SLA and listening insert themselves here.
RELAIS_PIPELINE_STEPS = [
    # publishing: a subscriber's "STOP" by SMS unsubscribes it (before it becomes a conversation)
    "relais.publishing.subscribers.pipeline.handle_stop",
    "relais.inbox.pipeline.thread_messages",
    "relais.triage.pipeline.triage_messages",
    "relais.listening.pipeline.match_and_count",  # listening: monitors, volume buckets
    "relais.inbox.pipeline.route_to_team",
    # care: routing rules, SLA clocks (after the default team is set)
    "relais.care.routing.apply_rules",
    "relais.care.clocks.clock_messages",
    "relais.inbox.pipeline.notify_clients",
]
RELAIS_INGEST_BATCH = int(os.environ.get("RELAIS_INGEST_BATCH", "500"))
RELAIS_DELIVERY_MAX_ATTEMPTS = int(os.environ.get("RELAIS_DELIVERY_MAX_ATTEMPTS", "6"))
# Shared secret for the generic ingest webhook's HMAC signature (per account secrets win).
RELAIS_WEBHOOK_SECRET = os.environ.get("RELAIS_WEBHOOK_SECRET", "")
# Operator system hooks (relais.care.operator, docs/routing.md): dotted paths of callables;
# empty = the organisation's webhook URLs. The demo's fakes: relais.care.demo_routing.fake_*.
RELAIS_OPERATOR_REPORTS = os.environ.get("RELAIS_OPERATOR_REPORTS", "")
RELAIS_CUSTOMER_LOOKUP = os.environ.get("RELAIS_CUSTOMER_LOOKUP", "")

# --- Auth, i18n, static -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "relais" / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Webhook batches may carry up to 1,000 messages; Django's 2.5 MB default is too small.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Mail to people (alerts to supervisors): SMTP when configured, the console otherwise.
DEFAULT_FROM_EMAIL = os.environ.get("RELAIS_FROM_EMAIL", "relais@localhost")
if os.environ.get("RELAIS_SMTP_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["RELAIS_SMTP_HOST"]
    EMAIL_PORT = int(os.environ.get("RELAIS_SMTP_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("RELAIS_SMTP_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("RELAIS_SMTP_PASSWORD", "")
    EMAIL_USE_TLS = _env_bool("RELAIS_SMTP_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "relais": {"handlers": ["console"], "level": os.environ.get("RELAIS_LOG_LEVEL", "INFO")},
        "huey": {"handlers": ["console"], "level": "WARNING"},
    },
}
