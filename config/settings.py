"""drdrill settings, read from the environment (12-factor).

Embedded defaults need nothing: SQLite in ``var/``, Celery's filesystem broker in ``var/broker``.
``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


DEBUG = env_bool("DRDRILL_DEBUG", False)
DATA_DIR = Path(os.environ.get("DRDRILL_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

def key_from_environment_or_data_folder(variable: str, file_name: str) -> str:
    """A secret from the environment (production), or generated once into the data folder (the
    embedded run: sessions and the audit chain survive restarts, no key is ever committed)."""
    value = os.environ.get(variable, "")
    if value:
        return value
    key_file = DATA_DIR / file_name
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = key_from_environment_or_data_folder("DRDRILL_SECRET_KEY", "secret_key")
# The key of the audit trail's HMAC chain (audit/services.py). Kept out of the database, so whoever
# can rewrite the database cannot recompute the chain. Production sets it in the environment.
AUDIT_KEY = key_from_environment_or_data_folder("DRDRILL_AUDIT_KEY", "audit_key")
# Where `manage.py audit anchor` and beat write the newest entry's number and MAC, outside the
# database: file:///path, syslog:// or an https:// webhook. Empty: no anchors.
AUDIT_ANCHOR = os.environ.get("DRDRILL_AUDIT_ANCHOR", "")
AUDIT_ANCHOR_MINUTES = env_float("DRDRILL_AUDIT_ANCHOR_MINUTES", 5.0)
# X-Forwarded-For is believed only from these proxies (addresses or networks), never from clients.
TRUSTED_PROXIES = [p.strip() for p in os.environ.get("DRDRILL_TRUSTED_PROXIES", "").split(",") if p.strip()]

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DRDRILL_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("DRDRILL_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "csp",
    "axes",
    "accounts",
    "audit",
    "runbooks",
    "drills",
    "plans",
    "compliance",
    "reviews",
    "observability",
    "programme",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "audit.context.AuditOriginMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into a clear refusal.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.capabilities",
            ],
        },
    },
]
WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'drdrill.sqlite3'}"),
        # Connections are kept between requests and tasks (a step costs 13 ms instead of 20 ms on
        # PostgreSQL, docs/performance.md) and checked before reuse, so one the database dropped is
        # replaced rather than failing a step.
        conn_max_age=int(os.environ.get("DRDRILL_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server, worker and beat are separate processes writing one file: WAL lets readers
    # proceed during a write, IMMEDIATE takes the write lock up front (no upgrade deadlocks),
    # and the timeout waits for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-drdrill.sqlite3")}
    # A kept SQLite connection can hold an old read snapshot (WAL) if any statement is left open,
    # and then a worker would not see a step another process just dispatched: the embedded
    # database opens a connection per request and per task unless told otherwise.
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DRDRILL_CONN_MAX_AGE", "0"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # Throttles sign-in: after AXES_FAILURE_LIMIT failures a username/address pair is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("DRDRILL_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("DRDRILL_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("DRDRILL_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app folders too, so the embedded run needs no collectstatic step.
WHITENOISE_USE_FINDERS = True

# --- security -----------------------------------------------------------------------------------
# Every script and stylesheet is our own file: no inline code, no CDN (DR tools run in locked-down
# networks). htmx works under this policy with its inline indicator styles turned off (base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("DRDRILL_SESSION_SECONDS", str(12 * 3600)))
# Behind TLS (production): secure cookies, HSTS, redirect to https. DRDRILL_HTTPS=1 turns it on;
# the embedded run on 127.0.0.1 has no TLS.
HTTPS = env_bool("DRDRILL_HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("DRDRILL_HSTS_SECONDS", str(365 * 86400)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DRDRILL_HSTS_PRELOAD", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# One JSON object a line with drill, step, task and trace ids (observability/logging.py);
# DRDRILL_LOG_FORMAT=plain for a terminal.
LOG_FORMAT = os.environ.get("DRDRILL_LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "observability.logging.JsonFormatter"},
    },
    "filters": {
        "redact_secrets": {"()": "drills.redaction.RedactSecretsFilter"},
        "context": {"()": "observability.logging.ContextFilter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "plain",
                             "filters": ["context", "redact_secrets"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("DRDRILL_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    broker_dir = DATA_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "processed_folder": str(broker_dir / "processed"),
        "control_folder": str(broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    # Redis redelivers an unacknowledged message after the visibility timeout. Every task of ours
    # finishes in seconds (long waits are split into polls), so an hour is a generous ceiling.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Countdowns (polls, canary ticks, retry backoff) fire within this many seconds of their time;
# Celery's default of 1 s would make a 0.5 s canary write once a second.
CELERY_WORKER_TIMER_PRECISION = 0.1
# Celery's Django fixup closes the connection around every task unless this is set; the task_prerun
# hook in config/celery.py closes broken or expired connections instead, as Django does per request.
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True

# --- drdrill ------------------------------------------------------------------------------------
# How often beat asks the engine to look at every active drill: it re-dispatches any step whose
# message was lost (a broker restart, a killed worker) so the database, not the queue, decides.
DRDRILL_SWEEP_SECONDS = env_float("DRDRILL_SWEEP_SECONDS", 5.0)
# A claimed step whose worker died is reclaimed after its lease: the action's own time limit
# plus this grace.
DRDRILL_LEASE_GRACE_SECONDS = env_float("DRDRILL_LEASE_GRACE_SECONDS", 5.0)
# A worker that finished a step runs the next one itself, without a broker hop, for up to this many
# seconds of a drill before handing it back to the broker (docs/performance.md).
DRDRILL_CONTINUE_SECONDS = env_float("DRDRILL_CONTINUE_SECONDS", 30.0)
# How often a worker writes its heartbeat (the queues it serves, seen on the drill page).
DRDRILL_HEARTBEAT_SECONDS = env_float("DRDRILL_HEARTBEAT_SECONDS", 5.0)
# The DR programme's clock (programme/tasks.py): planned drills due, stalled and running drills,
# post-drill report reminders, overdue systems, and the archive of an ended quarter. Every tick is
# idempotent (a message has a unique key), so a short interval costs a few queries and nothing more.
DRDRILL_PROGRAMME_TICK_SECONDS = env_float("DRDRILL_PROGRAMME_TICK_SECONDS", 60.0)
CELERY_BEAT_SCHEDULE = {
    "sweep-active-drills": {"task": "drills.tasks.sweep_active_drills", "schedule": DRDRILL_SWEEP_SECONDS},
    # Plan drills move on when a system drill ends; this catches a lost nudge and a rejected start.
    "sweep-plan-drills": {"task": "plans.tasks.sweep_plan_drills", "schedule": DRDRILL_SWEEP_SECONDS},
    "programme-tick": {"task": "programme.tasks.programme_tick", "schedule": DRDRILL_PROGRAMME_TICK_SECONDS},
    # Issues (archives) the quarterly report once a quarter has ended; a no-op once it is archived.
    "archive-ended-quarter": {"task": "programme.tasks.archive_ended_quarter",
                              "schedule": env_float("DRDRILL_REPORT_ARCHIVE_SECONDS", 3600.0)},
    # Writes the audit trail's newest entry and MAC outside the database (a no-op without a sink).
    "anchor-audit-trail": {"task": "audit.tasks.anchor_audit_trail", "schedule": AUDIT_ANCHOR_MINUTES * 60},
}
# A system is "due soon" this many days before a drill is due (the dashboard's horizon).
DRDRILL_DUE_SOON_DAYS = int(os.environ.get("DRDRILL_DUE_SOON_DAYS", "30"))
# An active drill with no new timeline entry for this long is reported stalled.
DRDRILL_STALL_MINUTES = env_float("DRDRILL_STALL_MINUTES", 15.0)
# A planned drill whose time passed longer ago than this (beat was down) is marked missed rather than
# started at a moment nobody expects.
DRDRILL_PLANNED_DRILL_GRACE_MINUTES = env_float("DRDRILL_PLANNED_DRILL_GRACE_MINUTES", 360.0)
# Notification delivery: retried with exponential backoff from this many seconds, this many times.
DRDRILL_NOTIFY_RETRY_SECONDS = env_float("DRDRILL_NOTIFY_RETRY_SECONDS", 30.0)
DRDRILL_NOTIFY_MAX_RETRIES = int(os.environ.get("DRDRILL_NOTIFY_MAX_RETRIES", "5"))
# Post-drill report reminder: the communication plan wants the report within 72 h of a drill's end.
DRDRILL_REPORT_DUE_HOURS = env_float("DRDRILL_REPORT_DUE_HOURS", 72.0)
DRDRILL_REPORT_REMINDER_HOURS = env_float("DRDRILL_REPORT_REMINDER_HOURS", 48.0)

# Compliance evidence (docs/compliance.md): the frameworks followed (keys of the control catalogue,
# comma-separated; empty: all), an organisation's own catalogue file added to the shipped one, the
# tiers whose systems support critical or important functions, and how long drill records are kept.
DRDRILL_COMPLIANCE_FRAMEWORKS = [f.strip() for f in os.environ.get("DRDRILL_COMPLIANCE_FRAMEWORKS", "").split(",")
                                 if f.strip()]
DRDRILL_CONTROLS_FILE = os.environ.get("DRDRILL_CONTROLS_FILE", "")
DRDRILL_CRITICAL_TIERS = [int(t) for t in os.environ.get("DRDRILL_CRITICAL_TIERS", "0,1").split(",") if t.strip()]
DRDRILL_RETENTION_YEARS = int(os.environ.get("DRDRILL_RETENTION_YEARS", "6"))
# Deficiencies of this severity or worse are reported to management, who acknowledge them.
DRDRILL_MANAGEMENT_SEVERITY = os.environ.get("DRDRILL_MANAGEMENT_SEVERITY", "high")

# Links in notifications and the calendar feed point here.
DRDRILL_BASE_URL = os.environ.get("DRDRILL_BASE_URL", "http://127.0.0.1:8000")

# E-mail goes through Django's e-mail backend (docs/programme.md#notifications): SMTP settings and
# credentials come from the environment, never from a subscription row. Without a host, mail is
# printed to the worker's log (the embedded demo).
EMAIL_HOST = os.environ.get("DRDRILL_EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("DRDRILL_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("DRDRILL_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DRDRILL_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DRDRILL_EMAIL_TLS", False)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = os.environ.get("DRDRILL_EMAIL_FROM", "drdrill@localhost")
EMAIL_BACKEND = os.environ.get("DRDRILL_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                               else "django.core.mail.backends.console.EmailBackend")
if os.environ.get("DRDRILL_EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = os.environ["DRDRILL_EMAIL_FILE_PATH"]
