"""Haulout settings: one module, driven by environment variables.

The defaults are embedded (SQLite, a filesystem Celery broker, mail written to a folder,
a file cache) so a fresh checkout runs with no server. Production differs only by the
environment: DATABASE_URL, CELERY_BROKER_URL, CACHE_URL, EMAIL_URL and friends.
"""

import os
import time
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("HAULOUT_VAR_DIR", default=str(BASE_DIR / "var")))
if not VAR_DIR.is_absolute():
    VAR_DIR = BASE_DIR / VAR_DIR
# Parallel test processes (pytest-xdist, `dev.py test`) each get their own directory, so
# one never reads another's half-written secret key, gpg homes or mail.
if _test_worker := os.environ.get("PYTEST_XDIST_WORKER"):
    VAR_DIR = VAR_DIR / _test_worker
# Private to the service's user: the embedded SQLite database (every case and notice),
# the secret key, the gpg homes and the team key live here.
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Secure transport is the default; only a local development or test run turns it off.
SECURE = env.bool("DJANGO_SECURE", default=True)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    # An embedded install keeps a random key under var/ so sessions survive restarts
    # and nobody ships a key in the repository.
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        from django.core.management.utils import get_random_secret_key

        # Created private (never briefly world-readable) and exclusively: when several
        # processes start at once, one writes the key and the others read it.
        try:
            _fd = os.open(_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(_fd, "w") as _out:
                _out.write(get_random_secret_key() + get_random_secret_key())
    for _ in range(50):  # another process may be writing it this instant
        SECRET_KEY = _key_file.read_text().strip()
        if SECRET_KEY:
            break
        time.sleep(0.02)

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("HAULOUT_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env.str("HAULOUT_SITE_NAME", default="Haulout")
PROJECT_NAME = env.str("HAULOUT_PROJECT_NAME", default="the project")
SECURITY_TEAM_EMAIL = env.str("HAULOUT_SECURITY_TEAM_EMAIL", default="security@localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "core",
    "distributors",
    "embargo",
    "leaks",
    "intake",
    "feedback",
    "advisories",
]

MIDDLEWARE = [
    # First: every later line of the request's log carries its id, and the latency
    # histogram times all the rest (ops/).
    "ops.logs.RequestIdMiddleware",
    "ops.metrics.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Outside everything that answers for a signed-in person (the MFA redirect included),
    # so every such answer gets Cache-Control: no-store.
    "core.middleware.NoStoreMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ops.logs.UserIdMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "core.middleware.StaffMfaRequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "core.context_processors.site",
                "intake.context_processors.reports",
                "ops.context_processors.header_links",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'haulout.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker and the web server read while the other writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
    # pytest-django keeps an SQLite test database in memory, where the real Celery worker
    # of the delivery tests cannot see it; a per-run file can be shared (only tests use it).
    DATABASES["default"]["TEST"] = {
        "NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3"),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One cache shared by every process: allauth's rate limits must count across all
# web workers, so the embedded default is on disk, never per-process memory.
CACHES = {
    "default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}"),
}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# allauth: the email address is the login, it must be verified, and responses never
# reveal whether an address has an account.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    # "key" is the account together with the client address (AccountAdapter): wrong
    # guesses from elsewhere never lock the real person out, and one address is still
    # held to 10 failures a minute whichever accounts it tries.
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}
# PGP key uploads a person may make in one clock hour (each runs several gpg
# processes); counted in the same shared cache as allauth's limits.
HAULOUT_KEY_UPLOADS_PER_HOUR = env.int("HAULOUT_KEY_UPLOADS_PER_HOUR", default=10)
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
# People are known by their address; the generated username means nothing to them.
ACCOUNT_USER_DISPLAY = "distributors.adapters.user_display"
# Confirming in the same browser session signs the person in and returns them to where
# they were going (an invitation link), instead of dropping the ?next= on the floor.
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SECURE else "http"
ACCOUNT_ADAPTER = "distributors.adapters.AccountAdapter"
# Sign-up hashes the password whether or not the address has an account, so the answer
# takes as long either way (forms_account.py).
ACCOUNT_FORMS = {"signup": "distributors.forms.account.SignupForm"}
# Second factors: an authenticator app (TOTP) or a security key (WebAuthn), with
# recovery codes for when neither is at hand. A key is a second factor only: passkey
# sign-in (a key instead of the password) stays off, so every sign-in still takes the
# password and one of the factors, as the MFA checks across the site assume.
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = False
# The TOTP secret stays the same across reloads until it is confirmed; the security key
# forms refuse a malformed answer with a message instead of a server error and say what
# to do (distributors/forms/mfa.py).
MFA_FORMS = {
    "activate_totp": "distributors.forms.mfa.ActivateTOTPForm",
    "add_webauthn": "distributors.forms.mfa.AddWebAuthnForm",
    "edit_webauthn": "distributors.forms.mfa.EditWebAuthnForm",
    "authenticate_webauthn": "distributors.forms.mfa.AuthenticateWebAuthnForm",
    "reauthenticate_webauthn": "distributors.forms.mfa.ReauthenticateWebAuthnForm",
}
MFA_TOTP_ISSUER = SITE_NAME

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
# Dates everywhere as 2026-05-04 14:00 UTC (config/formats), never a locale's own order.
FORMAT_MODULE_PATH = ["config.formats"]

# The security team's calendar (core.calendar): deadlines in business days, such as the
# first answer to a reporter (3) and a critical issue's suggested disclosure date (14),
# skip weekends, the public holidays of this country and subdivision (ISO 3166 codes,
# as the `holidays` library knows them; empty: none) and the closure days staff enter.
# Days are counted in the team's time zone.
HAULOUT_TEAM_TIME_ZONE = env.str("HAULOUT_TEAM_TIME_ZONE", default="UTC")
HAULOUT_HOLIDAYS_COUNTRY = env.str("HAULOUT_HOLIDAYS_COUNTRY", default="US")
HAULOUT_HOLIDAYS_SUBDIVISION = env.str("HAULOUT_HOLIDAYS_SUBDIVISION", default="")
# Disclosure dates the negotiation page suggests (embargo/negotiation_advice.py): at this
# time of day in UTC (HH:MM), never on these weekdays (Mon..Sun), nor on a weekend or a day
# the calendar above counts as closed. Friday by default: a Friday-evening disclosure
# leaves users to patch over a weekend with nobody on duty.
HAULOUT_DISCLOSURE_TIME_UTC = env.str("HAULOUT_DISCLOSURE_TIME_UTC", default="16:00")
HAULOUT_DISCLOSURE_AVOID_WEEKDAYS = env.list("HAULOUT_DISCLOSURE_AVOID_WEEKDAYS", default=["Fri"])

# Private reports (intake/). The team answers within HAULOUT_REPORT_ANSWER_BUSINESS_DAYS
# business days of receipt (the process promises 3); staff are warned a day before.
HAULOUT_REPORT_ANSWER_BUSINESS_DAYS = env.int("HAULOUT_REPORT_ANSWER_BUSINESS_DAYS", default=3)
HAULOUT_REPORT_WARN_BUSINESS_DAYS = env.int("HAULOUT_REPORT_WARN_BUSINESS_DAYS", default=2)
# Files reporters attach: kept outside the web root, at most this many per report or reply
# and this size each; text fields are capped too. A request larger than all of that
# together is refused before it is read.
HAULOUT_REPORT_FILES_DIR = Path(
    env.str("HAULOUT_REPORT_FILES_DIR", default=str(VAR_DIR / "report-files"))
)
HAULOUT_REPORT_ATTACHMENTS_MAX = env.int("HAULOUT_REPORT_ATTACHMENTS_MAX", default=5)
HAULOUT_REPORT_ATTACHMENT_MAX_BYTES = env.int(
    "HAULOUT_REPORT_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024
)
HAULOUT_REPORT_TEXT_MAX_CHARS = env.int("HAULOUT_REPORT_TEXT_MAX_CHARS", default=50_000)
# Abuse limits of the public form, per hour: per contact address and per client address.
HAULOUT_REPORTS_PER_HOUR = env.int("HAULOUT_REPORTS_PER_HOUR", default=5)
# Member feedback (feedback/): an organisation told about an open case that has given no
# status this many hours after its first copy went out gets one reminder.
HAULOUT_FEEDBACK_REMINDER_HOURS = env.int("HAULOUT_FEEDBACK_REMINDER_HOURS", default=72)
# Advisory exports (advisories/): who publishes the CSAF documents. The namespace is a URL
# that is the publisher's own (CSAF's document.publisher.namespace); both should be set.
HAULOUT_CSAF_PUBLISHER_NAME = env.str(
    "HAULOUT_CSAF_PUBLISHER_NAME", default=f"{PROJECT_NAME} security team"
)
HAULOUT_CSAF_PUBLISHER_NAMESPACE = env.str("HAULOUT_CSAF_PUBLISHER_NAMESPACE", default=SITE_URL)
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
# Whitenoise warns on every start until collectstatic has run; an empty folder is fine.
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Serving from the finders keeps a fresh checkout working without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Mail: written to a folder by default; production sets EMAIL_URL (smtp+tls://...).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{SITE_NAME} <haulout@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MAIL_DIR = VAR_DIR / "mail"
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = MAIL_DIR
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# Security headers. Everything below is on unless DJANGO_SECURE=0 (local runs, tests).
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SESSION_COOKIE_HTTPONLY = True
# No script of ours reads the CSRF cookie (forms carry the token in a hidden field).
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
SECURE_SSL_REDIRECT = SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000) if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
# Preload is on for check --deploy; a deployment that cannot commit to HTTPS for every
# subdomain turns it off before submitting the domain to browser preload lists.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if env.bool("DJANGO_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The client address for rate limits (allauth's): with 0 trusted proxies, the address
# the connection comes from; behind N proxies of ours, the address the outermost one saw,
# the Nth entry from the right of X-Forwarded-For (the entries to its left are the
# client's to invent). A proxy that sets a header of its own with the client address
# (X-Real-IP) is named in HAULOUT_TRUSTED_CLIENT_IP_HEADER instead. Django's
# REMOTE_ADDR is left as it is.
HAULOUT_TRUSTED_PROXY_COUNT = env.int("HAULOUT_TRUSTED_PROXY_COUNT", default=0)
HAULOUT_TRUSTED_CLIENT_IP_HEADER = env.str(
    "HAULOUT_TRUSTED_CLIENT_IP_HEADER", default="X-Forwarded-For"
)
ALLAUTH_TRUSTED_PROXY_COUNT = 0
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = None
if HAULOUT_TRUSTED_PROXY_COUNT > 0:
    if HAULOUT_TRUSTED_CLIENT_IP_HEADER.lower() == "x-forwarded-for":
        ALLAUTH_TRUSTED_PROXY_COUNT = HAULOUT_TRUSTED_PROXY_COUNT
    else:
        # Read only when a proxy of ours is there to overwrite what the client sent.
        ALLAUTH_TRUSTED_CLIENT_IP_HEADER = HAULOUT_TRUSTED_CLIENT_IP_HEADER
X_FRAME_OPTIONS = "DENY"
# A load balancer probes each web process directly, over plain HTTP (TLS ends at the
# proxy), and counts a redirect as a failure: /healthz/ answers there too. It sets no
# cookie and says only "ok" or "failing", so nothing is exposed over HTTP that HTTPS
# would protect. Matched against the path with the prefix a proxy mounts the site under
# (SCRIPT_NAME), so /haulout/healthz/ too.
SECURE_REDIRECT_EXEMPT = [r"^(?:[^/]+/)*healthz/$"]

# Operations (ops/). The metrics endpoint (/metrics) answers scrapers whose address
# (the client address as the sign-in rate limits see it: HAULOUT_TRUSTED_PROXY_COUNT
# and friends) is in HAULOUT_METRICS_ALLOWED_IPS (addresses or networks, e.g.
# 10.0.0.0/8), or that send "Authorization: Bearer <HAULOUT_METRICS_TOKEN>"; everyone
# else gets an empty 404. Both empty (the default): nobody.
HAULOUT_METRICS_ALLOWED_IPS = env.list("HAULOUT_METRICS_ALLOWED_IPS", default=[])
HAULOUT_METRICS_TOKEN = env.str("HAULOUT_METRICS_TOKEN", default="")
# The staff health page (/staff/health/) counts beat as stopped when its heartbeat job
# (every HAULOUT_BEAT_HEARTBEAT_SECONDS) last ran longer ago than this, and mail as stuck
# when a copy has waited longer than this to be sent (temporary failures retry for hours;
# a copy waiting this long means staff should look).
HAULOUT_HEALTH_BEAT_MAX_AGE_SECONDS = env.int("HAULOUT_HEALTH_BEAT_MAX_AGE_SECONDS", default=300)
HAULOUT_HEALTH_COPY_WAIT_MAX_SECONDS = env.int(
    "HAULOUT_HEALTH_COPY_WAIT_MAX_SECONDS", default=15 * 60
)

# No inline script or style anywhere: every page works from our own static files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # allauth renders the TOTP enrolment QR code as an SVG data: URI.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

# Celery: JSON only, at-least-once delivery. Messages carry ids, never content.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # Without this kombu writes its broadcast state to ./control in the working dir.
        "control_folder": str(_broker_dir / "control"),
    }
else:
    # Must stay well above the longest task, or Redis hands an unacked task to a
    # second worker while the first is still sending.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60),
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Database connections outlive a task (config/celery.py tidies them Django's way); Celery
# still closes them all after this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}
# Every periodic job is safe to run twice at once (each claims its work before it mails),
# so a second beat is harmless. HAULOUT_BEAT_<JOB>_SECONDS shorten the intervals for the
# real-service tests; the defaults are the production ones.
# Embargoed notices: the sweeper re-queues copies a lost message or a dead worker left
# behind; the lift publishes advisories on time; reminders chase acknowledgements.
CELERY_BEAT_SCHEDULE["embargo-lift-due"] = {
    "task": "embargo.tasks.embargo_lift_due_task",
    "schedule": env.int("HAULOUT_BEAT_EMBARGO_LIFT_SECONDS", default=60),
}
CELERY_BEAT_SCHEDULE["embargo-acknowledgement-reminders"] = {
    "task": "embargo.tasks.acknowledgement_reminders_task",
    "schedule": env.int("HAULOUT_BEAT_ACK_REMINDERS_SECONDS", default=15 * 60),
}
# A queue name of its own lets the real-service tests share a Redis with others.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# The sweeper's own queue: behind a long queue of send tasks it would wait for them all,
# which is exactly when copies need rescuing. Workers consume both queues unless told
# otherwise (-Q); a small worker with `-Q <this queue>` alone isolates it completely.
HAULOUT_SWEEP_QUEUE = env.str("HAULOUT_SWEEP_QUEUE", default=f"{CELERY_TASK_DEFAULT_QUEUE}.sweep")
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(HAULOUT_SWEEP_QUEUE))
# The audit sealer too: short and database-only, and behind a fan-out's send tasks events
# would wait minutes for their place in the chain.
CELERY_TASK_ROUTES = {
    "embargo.tasks.deliveries_sweep_task": {"queue": HAULOUT_SWEEP_QUEUE},
    "core.tasks.audit_chain_seal_task": {"queue": HAULOUT_SWEEP_QUEUE},
}
# Beat's heartbeat for the staff health page (core.periodic); a heartbeat still queued
# when the next is due tells nothing new.
HAULOUT_BEAT_HEARTBEAT_SECONDS = env.int("HAULOUT_BEAT_HEARTBEAT_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["core-beat-heartbeat"] = {
    "task": "core.tasks.beat_heartbeat_task",
    "schedule": HAULOUT_BEAT_HEARTBEAT_SECONDS,
    "options": {"expires": HAULOUT_BEAT_HEARTBEAT_SECONDS},
}
# Daily reminders to people (key expiry at 30 and 7 days; the policy at most weekly).
CELERY_BEAT_SCHEDULE["distributors-key-expiry-warnings"] = {
    "task": "distributors.tasks.key_expiry_warnings_task",
    "schedule": env.int("HAULOUT_BEAT_KEY_EXPIRY_WARNINGS_SECONDS", default=24 * 60 * 60),
}
CELERY_BEAT_SCHEDULE["distributors-policy-reminders"] = {
    "task": "distributors.tasks.policy_reminders_task",
    "schedule": env.int("HAULOUT_BEAT_POLICY_REMINDERS_SECONDS", default=24 * 60 * 60),
}
CELERY_BEAT_SCHEDULE["embargo-suspensions-lift"] = {
    "task": "leaks.tasks.suspensions_lift_due_task",
    "schedule": env.int("HAULOUT_BEAT_SUSPENSIONS_LIFT_SECONDS", default=15 * 60),
}
# Reporters are promised a first response within 3 business days; staff hear at 2.
CELERY_BEAT_SCHEDULE["embargo-first-response-overdue"] = {
    "task": "embargo.tasks.first_response_overdue_task",
    "schedule": env.int("HAULOUT_BEAT_FIRST_RESPONSE_SECONDS", default=60 * 60),
}

# Reports: the first-response warning and deadline, and receipts or team messages whose
# mail the queue lost (intake.services.deadlines).
CELERY_BEAT_SCHEDULE["intake-report-deadlines"] = {
    "task": "intake.tasks.report_deadlines_task",
    "schedule": env.int("HAULOUT_BEAT_REPORT_DEADLINES_SECONDS", default=60),
}
# Member feedback: the one reminder to organisations that have not given their status.
CELERY_BEAT_SCHEDULE["feedback-reminders"] = {
    "task": "feedback.tasks.feedback_reminders_task",
    "schedule": env.int("HAULOUT_BEAT_FEEDBACK_REMINDERS_SECONDS", default=5 * 60),
}

# The audit log's hash chain (core/chain.py): the sealer numbers and hashes new events
# this often, this many to a transaction; audit_verify warns about events left unsealed
# longer than HAULOUT_AUDIT_UNSEALED_WARN_MINUTES. Once a day (the job runs hourly and
# makes at most one a day) the chain's head is signed with the team key and mailed to staff.
HAULOUT_AUDIT_SEAL_SECONDS = env.float("HAULOUT_AUDIT_SEAL_SECONDS", default=5)
HAULOUT_AUDIT_SEAL_BATCH = env.int("HAULOUT_AUDIT_SEAL_BATCH", default=1000)
HAULOUT_AUDIT_UNSEALED_WARN_MINUTES = env.int("HAULOUT_AUDIT_UNSEALED_WARN_MINUTES", default=10)
CELERY_BEAT_SCHEDULE["core-audit-chain-seal"] = {
    "task": "core.tasks.audit_chain_seal_task",
    "schedule": HAULOUT_AUDIT_SEAL_SECONDS,
    # Runs that queued up behind a stopped worker would each find nothing left to seal.
    "options": {"expires": HAULOUT_AUDIT_SEAL_SECONDS * 3},
}
CELERY_BEAT_SCHEDULE["distributors-audit-checkpoint"] = {
    "task": "distributors.tasks.audit_checkpoint_task",
    "schedule": env.int("HAULOUT_BEAT_AUDIT_CHECKPOINT_SECONDS", default=60 * 60),
}

# Leaks: the sanction each further confirmed leak brings, in order (the last one repeats),
# and the key that derives each copy's wording. Set HAULOUT_TRACE_SECRET in production so
# rotating SECRET_KEY does not change how new copies are worded.
# An empty value means the default too: a ladder with no steps could sanction nobody.
HAULOUT_SANCTION_LADDER = env.list("HAULOUT_SANCTION_LADDER", default=[]) or ["warning", "removal"]
HAULOUT_SANCTION_SUSPENSION_DAYS = env.int("HAULOUT_SANCTION_SUSPENSION_DAYS", default=30)
HAULOUT_TRACE_SECRET = env.str("HAULOUT_TRACE_SECRET", default="")

# Deliveries (see embargo/delivery/send.py). Every fault must end in every copy out
# within a minute of the fault ending, so these are short by default:
# - a queued copy no task has claimed after this long is queued again by the sweeper
#   (the broker lost the message, or restarted empty);
HAULOUT_DELIVERY_PENDING_TIMEOUT = env.int("HAULOUT_DELIVERY_PENDING_TIMEOUT", default=30)
# - a claim is a lease of this long, renewed by its owner and checked before every
#   hand-off to SMTP; the sweeper takes back copies whose lease ran out (a killed or
#   frozen worker). A hand-off never outlasts the lease (SMTP timeouts are cut to fit);
HAULOUT_DELIVERY_LEASE_SECONDS = env.int("HAULOUT_DELIVERY_LEASE_SECONDS", default=30)
# - the sweeper runs this often, in a queue of its own (HAULOUT_SWEEP_QUEUE) so that a
#   long queue of send tasks cannot hold it up;
HAULOUT_DELIVERY_SWEEP_SECONDS = env.float("HAULOUT_DELIVERY_SWEEP_SECONDS", default=10)
# - a temporary failure (SMTP 4xx or down, gpg missing, database gone) retries after
#   1, 2, 4 ... seconds, at most this many, until the give-up time: hours, never a small
#   count of tries. Then the copy fails and staff are told;
HAULOUT_DELIVERY_RETRY_MAX_SECONDS = env.int("HAULOUT_DELIVERY_RETRY_MAX_SECONDS", default=30)
HAULOUT_DELIVERY_GIVE_UP_HOURS = env.float("HAULOUT_DELIVERY_GIVE_UP_HOURS", default=24)
# - a send task stops taking up new copies after this long and hands the rest on, so no
#   task runs for ever (Celery kills one that passes twice the lease more).
HAULOUT_DELIVERY_TASK_SECONDS = env.int("HAULOUT_DELIVERY_TASK_SECONDS", default=120)
CELERY_BEAT_SCHEDULE["embargo-deliveries-sweep"] = {
    "task": "embargo.tasks.deliveries_sweep_task",
    "schedule": HAULOUT_DELIVERY_SWEEP_SECONDS,
    # A sweep still queued when the next two are due is of no use any more.
    "options": {"expires": HAULOUT_DELIVERY_SWEEP_SECONDS * 3},
}
CELERY_TASK_ANNOTATIONS = {
    "embargo.tasks.delivery_send_task": {
        "time_limit": HAULOUT_DELIVERY_TASK_SECONDS + 2 * HAULOUT_DELIVERY_LEASE_SECONDS
    }
}
# A send task carries up to this many delivery ids (never content); eligibility is checked
# again, and sent copies are recorded, every HAULOUT_DELIVERY_RECHECK_EVERY copies at most,
# and more often when copies go out slowly: a part takes about
# HAULOUT_DELIVERY_RECHECK_SECONDS at the pace of the last. A crash can therefore re-send
# at most a part's worth of copies, each once and with the same Message-ID. Bigger batches
# spread the per-task cost (queueing, the claim, reading the notice) over more copies and
# leave a worker's gpg pipeline empty less often; the end of a fan-out is shared out in
# smaller pieces.
HAULOUT_DELIVERY_BATCH_SIZE = env.int("HAULOUT_DELIVERY_BATCH_SIZE", default=100)
HAULOUT_DELIVERY_RECHECK_EVERY = env.int("HAULOUT_DELIVERY_RECHECK_EVERY", default=20)
HAULOUT_DELIVERY_RECHECK_SECONDS = env.float("HAULOUT_DELIVERY_RECHECK_SECONDS", default=0.5)
# 1: a worker starts the next copy's gpg while it sends this one (for workers that have a
# core each to spare); 0: one copy at a time, less CPU per copy where workers share cores.
HAULOUT_DELIVERY_GPG_AHEAD = env.int("HAULOUT_DELIVERY_GPG_AHEAD", default=0)
HAULOUT_ACK_REMINDER_HOURS = env.int("HAULOUT_ACK_REMINDER_HOURS", default=24)
HAULOUT_ACK_STAFF_ALERT_HOURS = env.int("HAULOUT_ACK_STAFF_ALERT_HOURS", default=24)
HAULOUT_MESSAGE_ID_DOMAIN = env.str("HAULOUT_MESSAGE_ID_DOMAIN", default="") or (
    SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
)

# PGP: the gpg binary and the per-process home directories live under var/.
GPG_BINARY = env.str("HAULOUT_GPG_BINARY", default="gpg")
GPG_HOME_ROOT = Path(env.str("HAULOUT_GPG_HOME_ROOT", default=str(VAR_DIR / "gnupg")))
# The security team's signing key (armored secret key) and its passphrase, each in a
# file of its own; the passphrase reaches gpg on a pipe, never on a command line.
HAULOUT_TEAM_KEY_FILE = Path(
    env.str("HAULOUT_TEAM_KEY_FILE", default=str(VAR_DIR / "team-key.asc"))
)
HAULOUT_TEAM_KEY_PASSPHRASE_FILE = Path(
    env.str("HAULOUT_TEAM_KEY_PASSPHRASE_FILE", default=str(VAR_DIR / "team-key.passphrase"))
)
# The same key's public half, which the site publishes: web processes read only this
# file and never need the secret key.
HAULOUT_TEAM_PUBLIC_KEY_FILE = Path(
    env.str("HAULOUT_TEAM_PUBLIC_KEY_FILE", default=str(VAR_DIR / "team-key.pub.asc"))
)

DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.EmbargoSafeExceptionReporterFilter"

# Log lines: plain text by default; HAULOUT_LOG_FORMAT=json writes one JSON object per
# line (python-json-logger) with the request id, the user id and the Celery task id
# (ops/logs.py), and the case or notice ids the code passes with extra=.
HAULOUT_LOG_FORMAT = env.str("HAULOUT_LOG_FORMAT", default="plain").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "ops.logs.LogContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s "
            "%(request_id)s %(user_id)s %(task_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if HAULOUT_LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # python-gnupg logs gpg's status lines and ciphertext at DEBUG: noise at best.
        "gnupg": {"level": "WARNING"},
        # django-health-check logs every failing check with its traceback; a load
        # balancer probing every few seconds during an outage would fill the log. The
        # staff page shows why; unexpected errors in a check are still logged (ERROR).
        "health_check": {"level": "ERROR"},
    },
}
