"""Settings. Every value comes from the environment (12-factor); see README.md "Configuration".

devstack/ fills DATABASE_URL, REDIS_URL and GRAPH_URL with embedded servers when they are not set.
"""
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.templatetags.static import static

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# No production default for the secret: only a DEBUG process may fall back to a throwaway key.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key" if DEBUG else environ.Env.NOTSET)
DEV_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=DEV_HOSTS if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # django-unfold themes the three admin sites (core/sites.py); it must come before django.contrib.admin.
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "core.sites.OperatorAdminConfig",  # django.contrib.admin, with the operator site as admin.site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # our apps, in dependency order (ARCHITECTURE.md)
    "core",
    "accounts",
    "supply",
    "mall",
    "cards",
    "engagement",
    "recsys",
    "support",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.InvalidCharactersMiddleware",  # NUL in /api/ query strings and headers: a 400
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Benchmarks serve config.urls plus their probe endpoints (bench/urls.py); nothing else sets this.
ROOT_URLCONF = env.str("DJANGO_ROOT_URLCONF", default="config.urls")
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
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # transactions are explicit (STYLE.md rule 6)
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Django's PostgreSQL backend, except that a connection used in the last few seconds is not health-checked again
# (one round trip less on every busy request; core/db/postgresql/base.py).
DATABASES["default"]["ENGINE"] = "core.db.postgresql"
DATABASE_HEALTH_CHECK_IDLE_SECONDS = env.float("DATABASE_HEALTH_CHECK_IDLE_SECONDS", default=5.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
# --- Media (product pictures): Django's storage API only. Local files under MEDIA_ROOT by default (devstack puts
# them in var/<instance>/media; Django serves them at MEDIA_URL when debugging); S3-compatible storage through
# django-storages when MEDIA_S3_BUCKET is set (MinIO in docker-compose), its URLs then served by the storage itself.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_S3_BUCKET = env.str("MEDIA_S3_BUCKET", default="")
if MEDIA_S3_BUCKET:
    from botocore.config import Config as _S3ClientConfig

    _MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default="") or None,
            "access_key": env.str("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("MEDIA_S3_REGION", default="") or None,
            # Where shoppers fetch the files: a CDN or the bucket's public address ("media.example.com" or
            # "localhost:9000/mall-media"); empty = the endpoint's own URL for the bucket.
            "custom_domain": env.str("MEDIA_S3_CUSTOM_DOMAIN", default="") or None,
            "url_protocol": env.str("MEDIA_S3_URL_PROTOCOL", default="https:"),
            # Product pictures are public: plain URLs (no signature that expires), the bucket allows anonymous reads.
            "querystring_auth": False,
            # Every stored name holds a fresh random token (supply/images.py): no existence check per file.
            "file_overwrite": True,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
            # An unreachable storage costs an upload seconds, not minutes (the upload answers 503); path-style
            # addressing (endpoint/bucket/key) is what MinIO and most S3-compatible servers expect.
            "client_config": _S3ClientConfig(
                connect_timeout=3, read_timeout=15, retries={"max_attempts": 2},
                s3={"addressing_style": env.str("MEDIA_S3_ADDRESSING_STYLE", default="path")}),
        },
    }
else:
    _MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
# Media is served by Django only while debugging with local files; production serves the storage's URLs.
MEDIA_SERVED_BY_DJANGO = DEBUG and not MEDIA_S3_BUCKET and MEDIA_URL.startswith("/")
STORAGES = {
    "default": _MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Admin sites (django-unfold): operator /admin/, merchant /merchant/, supplier /supplier/ ---
# One palette for the three (Tailwind's red scale, the colour of a Chinese shop front); each site its own title,
# symbol and dashboard (templates/admin/*_index.html, figures from mall/dashboards.py).
_BRAND = {"50": "oklch(97.1% .013 17.38)", "100": "oklch(93.6% .032 17.717)", "200": "oklch(88.5% .062 18.334)",
          "300": "oklch(80.8% .114 19.571)", "400": "oklch(70.4% .191 22.216)", "500": "oklch(63.7% .237 25.331)",
          "600": "oklch(57.7% .245 27.325)", "700": "oklch(50.5% .213 27.518)", "800": "oklch(44.4% .177 26.899)",
          "900": "oklch(39.6% .141 25.723)", "950": "oklch(25.8% .092 26.042)"}


def _admin_theme(title: str, symbol: str, dashboard: str) -> dict:
    return {
        "SITE_TITLE": title, "SITE_HEADER": title, "SITE_SUBHEADER": "S2B2C 智能名片商城", "SITE_SYMBOL": symbol,
        "SITE_URL": None, "SHOW_HISTORY": True, "SHOW_VIEW_ON_SITE": False, "SHOW_LANGUAGES": True,
        "COLORS": {"primary": _BRAND}, "DASHBOARD_CALLBACK": dashboard,
        "SIDEBAR": {"show_search": True, "show_all_applications": False},
        "SITE_FAVICONS": [{"rel": "icon", "sizes": "any", "type": "image/svg+xml",
                           "href": lambda request: static("core/favicon.svg")}],
    }


# The day the dashboards look back from when the page names none: "today", or "latest" (the day of the latest paid
# order in view; `make run` uses it, the demo's orders being from 2010-2011).
DASHBOARD_DEFAULT_DAY = env.str("DASHBOARD_DEFAULT_DAY", default="today")
UNFOLD = _admin_theme("运营后台", "monitoring", "mall.dashboard_pages.operator_dashboard")
UNFOLD_MERCHANT = _admin_theme("商家工作台", "storefront", "mall.dashboard_pages.merchant_dashboard")
UNFOLD_SUPPLIER = _admin_theme("供应商工作台", "local_shipping", "mall.dashboard_pages.supplier_dashboard")

# --- Redis: Celery broker, Django cache (throttling, login-code limits) ---
REDIS_URL = env.str("REDIS_URL")
# Short socket timeouts everywhere Redis is used: an outage must cost a request at most a second or two.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT_SECONDS", default=1.0)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="mall"),
        "OPTIONS": {"socket_timeout": REDIS_SOCKET_TIMEOUT, "socket_connect_timeout": REDIS_SOCKET_TIMEOUT},
    }
}

# --- Share graph (cards/graph): falkordb://, neo4j:// or bolt:// ---
GRAPH_URL = env.str("GRAPH_URL")
GRAPH_NAME = env.str("GRAPH_NAME", default="share_graph")

# --- Celery ---
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_EXPIRES = timedelta(hours=1)
# Results are not kept unless a task asks (ping): sending a task then never touches the result backend.
CELERY_TASK_IGNORE_RESULT = True
# Publishing after commit must not block a request: no publish retries, short socket timeouts. A task the broker
# could not take is found again by its sweep (core/transactions.py).
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": max(REDIS_SOCKET_TIMEOUT, 2.0),  # above the worker's 1 s BRPOP poll
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "retry_on_timeout": False,
}
CELERY_REDIS_SOCKET_TIMEOUT = max(REDIS_SOCKET_TIMEOUT, 2.0)
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_SOCKET_TIMEOUT
# After a failed publish a process leaves the broker alone this long (core/transactions.py).
BROKER_RETRY_AFTER_SECONDS = env.float("BROKER_RETRY_AFTER_SECONDS", default=15.0)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Heavy ML work runs on its own queue (STYLE.md rule 13), wherever it is sent from.
# Heavy work has queues of its own, so the beat's short tasks (batch consumers, sweeps) are never stuck behind it in
# one list: the worker takes from its queues in turn. Drawing the demo's 3,790 product pictures takes minutes.
CELERY_TASK_ROUTES = {"cards.intent_train_task": {"queue": "ml"}, "cards.leads_score_task": {"queue": "ml"},
                      "supply.product_pictures_generate_task": {"queue": "media"}}
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "behaviour-events-redeliver": {
        "task": "core.events_redeliver_task",
        "schedule": timedelta(seconds=env.int("EVENTS_SWEEP_SECONDS", default=60)),
    },
    "behaviour-events-batch-consumers": {
        "task": "core.events_consumers_run_task",
        "schedule": timedelta(seconds=env.int("EVENTS_CONSUME_SECONDS", default=5)),
    },
    "orders-close-unpaid": {"task": "mall.orders_close_expired_task", "schedule": timedelta(seconds=30)},
    "orders-auto-confirm": {"task": "mall.orders_auto_confirm_task", "schedule": timedelta(minutes=30)},
    "group-buy-teams-expire": {"task": "mall.group_buy_teams_expire_task", "schedule": timedelta(minutes=1)},
    "bargain-sessions-expire": {"task": "mall.bargain_sessions_expire_task", "schedule": timedelta(minutes=5)},
    "refunds-send-due": {"task": "mall.refunds_send_due_task", "schedule": timedelta(minutes=1)},
    "commissions-settle-due": {"task": "cards.commissions_settle_due_task", "schedule": timedelta(minutes=30)},
    # The intent score (意向度) on the `ml` queue: leads rescored and tagged every 15 minutes, retrained daily.
    "leads-score": {"task": "cards.leads_score_task", "options": {"queue": "ml"},
                    "schedule": timedelta(minutes=env.int("CARDS_INTENT_SCORE_MINUTES", default=15))},
    "intent-train": {"task": "cards.intent_train_task", "options": {"queue": "ml"},
                     "schedule": timedelta(hours=env.int("CARDS_INTENT_TRAIN_HOURS", default=24))},
    "auth-sessions-purge": {"task": "accounts.auth_sessions_purge_task", "schedule": timedelta(hours=6)},
    "engagement-expiry-tick": {"task": "engagement.ledger_expiry_tick_task",
                               "schedule": timedelta(minutes=env.int("ENGAGEMENT_EXPIRY_TICK_MINUTES", default=10))},
}

# --- Behaviour events ---
# An event whose handlers have not all finished this long after it was written is re-delivered by the sweep.
EVENTS_REDELIVER_AFTER = timedelta(seconds=env.int("EVENTS_REDELIVER_AFTER_SECONDS", default=60))
EVENTS_MAX_ATTEMPTS = env.int("EVENTS_MAX_ATTEMPTS", default=10)
# Events recorded outside a transaction (tracking endpoints) are committed in groups by one writer per process;
# a caller waits at most this long for its group's commit.
EVENTS_GROUP_COMMIT = env.bool("EVENTS_GROUP_COMMIT", default=True)
EVENTS_WRITE_TIMEOUT_SECONDS = env.float("EVENTS_WRITE_TIMEOUT_SECONDS", default=10.0)

# --- Business cards (cards/) ---
# Who a visitor's referrer for a card is: "permanent" (first touch for ever), "days" (first touch for
# CARDS_ATTRIBUTION_DAYS, then the next share that brings them) or "last_click".
CARDS_ATTRIBUTION = env.str("CARDS_ATTRIBUTION", default="permanent")
CARDS_ATTRIBUTION_DAYS = env.int("CARDS_ATTRIBUTION_DAYS", default=30)
# A customer belongs to one rep per store (the rep whose card first brought them); reassignments are audited.
CARDS_ONE_REP_PER_STORE = env.bool("CARDS_ONE_REP_PER_STORE", default=True)
# A lead converts when its visitor pays an order in the card's store within this many days of their last visit.
CARDS_CONVERSION_DAYS = env.int("CARDS_CONVERSION_DAYS", default=30)
RADAR_STREAM_LENGTH = env.int("RADAR_STREAM_LENGTH", default=500)
# The radar feed (cards/radar.py, GET /api/v1/radar/stream and /api/v1/radar): an SSE connection holds one gunicorn
# thread, so a stream ends after RADAR_STREAM_SECONDS (the browser reconnects with Last-Event-ID after
# RADAR_RETRY_MS), sends a comment every RADAR_HEARTBEAT_SECONDS, and at most RADAR_STREAMS_PER_PROCESS streams and
# long-polls wait at once in a process (more are told to come back after RADAR_BUSY_RETRY_SECONDS). A long-poll
# waits at most RADAR_LONG_POLL_SECONDS.
RADAR_STREAM_SECONDS = env.int("RADAR_STREAM_SECONDS", default=30)
RADAR_HEARTBEAT_SECONDS = env.int("RADAR_HEARTBEAT_SECONDS", default=10)
RADAR_RETRY_MS = env.int("RADAR_RETRY_MS", default=1000)
RADAR_STREAMS_PER_PROCESS = env.int("RADAR_STREAMS_PER_PROCESS", default=2)
RADAR_BUSY_RETRY_SECONDS = env.int("RADAR_BUSY_RETRY_SECONDS", default=10)
RADAR_LONG_POLL_SECONDS = env.int("RADAR_LONG_POLL_SECONDS", default=20)
# Intent score (意向度, cards/services/intent.py): scored "as of" now, or "latest" = the time of the latest card visit
# (the demo's history ended in 2011: `make run` sets it). A model is trained only with at least this many converted
# and not converted snapshot rows (until then the points formula stands in), and activated only when its expected
# calibration error on the held-out later period is at most CARDS_INTENT_MAX_ECE.
CARDS_INTENT_AS_OF = env.str("CARDS_INTENT_AS_OF", default="now")
CARDS_INTENT_MIN_LABELS = env.int("CARDS_INTENT_MIN_LABELS", default=200)
CARDS_INTENT_MAX_ECE = env.float("CARDS_INTENT_MAX_ECE", default=0.05)
CARDS_INTENT_TRAINING_DAYS = env.int("CARDS_INTENT_TRAINING_DAYS", default=400)
# Withdrawals of distribution commission (分销佣金提现): the smallest amount and the fee (rate, at least the minimum).
COMMISSION_WITHDRAWAL_MINIMUM = env("COMMISSION_WITHDRAWAL_MINIMUM", cast=Decimal, default=Decimal("10.00"))
COMMISSION_WITHDRAWAL_FEE_RATE = env("COMMISSION_WITHDRAWAL_FEE_RATE", cast=Decimal, default=Decimal("0.006"))
COMMISSION_WITHDRAWAL_MIN_FEE = env("COMMISSION_WITHDRAWAL_MIN_FEE", cast=Decimal, default=Decimal("0.10"))

# --- Participation (engagement/): points, card energy, experience ---
# Points at checkout: this many points are worth one yuan; they pay at most this share of the payable.
ENGAGEMENT_POINTS_PER_YUAN = env.int("ENGAGEMENT_POINTS_PER_YUAN", default=100)
ENGAGEMENT_POINTS_MAX_SHARE = env("ENGAGEMENT_POINTS_MAX_SHARE", cast=Decimal, default=Decimal("0.5"))
# Days an award stays spendable unless its rule says otherwise (0: never expires); experience never expires.
ENGAGEMENT_POINTS_VALIDITY_DAYS = env.int("ENGAGEMENT_POINTS_VALIDITY_DAYS", default=365)
ENGAGEMENT_ENERGY_VALIDITY_DAYS = env.int("ENGAGEMENT_ENERGY_VALIDITY_DAYS", default=0)
# A new user whose first referral arrives within this many hours of registering was invited by its sharer.
ENGAGEMENT_INVITE_WINDOW_HOURS = env.int("ENGAGEMENT_INVITE_WINDOW_HOURS", default=24)

# --- Encrypted fields (core/crypto.py): AES-256-GCM keys as "id:base64(32 bytes)", newest first ---
# No default outside debug: start-up refuses when a model has an encrypted field and no key is set.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Health ---
HEALTH_TIMEOUT_SECONDS = env.float("HEALTH_TIMEOUT_SECONDS", default=1.5)

# --- Orders and payments ---
ORDER_PAY_TIMEOUT = timedelta(minutes=env.int("ORDER_PAY_TIMEOUT_MINUTES", default=30))
# 自动确认收货: receipt is confirmed this many days after the order shipped, unless the buyer did it first.
ORDER_AUTO_CONFIRM_AFTER = timedelta(days=env.int("ORDER_AUTO_CONFIRM_DAYS", default=10))
AFTER_SALE_WINDOW = timedelta(days=env.int("AFTER_SALE_WINDOW_DAYS", default=7))
# The simulated gateway (dev/demo) pays any order: it is enabled by default only when debugging, and outside debug
# it has no default secret (start-up refuses it without one). Production lists its real providers here.
SIMULATED_GATEWAY = "mall.services.payment_providers.SimulatedGateway"
PAYMENT_PROVIDERS = env.list("PAYMENT_PROVIDERS", default=[SIMULATED_GATEWAY] if DEBUG else [])
PAYMENT_SIMULATED_SECRET = env.str("PAYMENT_SIMULATED_SECRET",
                                   default="simulated-gateway-dev-secret" if DEBUG else "")
# Carrier tracking push (快递100 订阅推送): the salt we give Kuaidi100 with each subscription; pushes are signed
# MD5(param + salt). Empty (the default outside debug) switches the push endpoint off: it answers 404.
TRACKING_PUSH_SALT = env.str("TRACKING_PUSH_SALT", default="tracking-push-dev-salt" if DEBUG else "")
# Refunds are sent after commit by a task; transient provider failures are retried this many times in all.
REFUND_MAX_ATTEMPTS = env.int("REFUND_MAX_ATTEMPTS", default=8)
# A pending refund not tried for this long is sent by the sweep (its task was lost).
REFUND_RESEND_AFTER = timedelta(seconds=env.int("REFUND_RESEND_AFTER_SECONDS", default=120))

# --- Product pictures (supply/imaging.py, supply/images.py) ---
PRODUCT_IMAGE_MAX_BYTES = env.int("PRODUCT_IMAGE_MAX_BYTES", default=5 * 1024 * 1024)
# Shorter side at least this many pixels (a mini-program list shows 360 px), longer side at most this many: a
# header announcing more is refused before a pixel is decoded (decompression bombs).
PRODUCT_IMAGE_MIN_SIDE = env.int("PRODUCT_IMAGE_MIN_SIDE", default=240)
PRODUCT_IMAGE_MAX_SIDE = env.int("PRODUCT_IMAGE_MAX_SIDE", default=6000)
PRODUCT_IMAGE_MAX_PER_PRODUCT = env.int("PRODUCT_IMAGE_MAX_PER_PRODUCT", default=9)
# The stored picture's longer side (detail page zoom), and the two thumbnails (detail page, list), in pixels.
PRODUCT_IMAGE_LARGE_SIDE = env.int("PRODUCT_IMAGE_LARGE_SIDE", default=1600)
PRODUCT_IMAGE_MEDIUM_SIDE = env.int("PRODUCT_IMAGE_MEDIUM_SIDE", default=800)
PRODUCT_IMAGE_SMALL_SIDE = env.int("PRODUCT_IMAGE_SMALL_SIDE", default=360)

# --- Login by phone + one-time code ---
SMS_BACKEND = env.str("SMS_BACKEND", default="accounts.sms.LogSmsBackend")
LOGIN_CODE_TTL = timedelta(seconds=env.int("LOGIN_CODE_TTL_SECONDS", default=300))
LOGIN_CODE_RESEND_INTERVAL = timedelta(seconds=env.int("LOGIN_CODE_RESEND_SECONDS", default=60))
LOGIN_CODE_MAX_ATTEMPTS = env.int("LOGIN_CODE_MAX_ATTEMPTS", default=5)
LOGIN_CODE_DAILY_LIMIT = env.int("LOGIN_CODE_DAILY_LIMIT", default=10)

# --- API tokens (accounts/tokens.py): one session per login and device, stored only as hashes ---
# The access token is sent on every request (`Authorization: Token <access token>`) and lives briefly; the refresh
# token buys a new pair at POST /api/v1/auth/refresh (the old pair stops working; a refresh token used twice
# revokes its session). A session not refreshed within AUTH_REFRESH_TOKEN_TTL ends.
AUTH_ACCESS_TOKEN_TTL = timedelta(seconds=env.int("AUTH_ACCESS_TOKEN_TTL_SECONDS", default=2 * 3600))
AUTH_REFRESH_TOKEN_TTL = timedelta(days=env.int("AUTH_REFRESH_TOKEN_TTL_DAYS", default=30))
# Ended sessions (expired, logged out, revoked) are kept this long for the admin, then purged.
AUTH_SESSION_RETENTION = timedelta(days=env.int("AUTH_SESSION_RETENTION_DAYS", default=30))

# --- WeChat mini-program login (accounts/wechat.py) ---
# Empty AppID or secret switches WeChat login and phone authorisation off: their endpoints answer 404.
WECHAT_MINIPROGRAM_APPID = env.str("WECHAT_MINIPROGRAM_APPID", default="")
WECHAT_MINIPROGRAM_SECRET = env.str("WECHAT_MINIPROGRAM_SECRET", default="")
WECHAT_API_BASE_URL = env.str("WECHAT_API_BASE_URL", default="https://api.weixin.qq.com")
WECHAT_TIMEOUT_SECONDS = env.float("WECHAT_TIMEOUT_SECONDS", default=5.0)
# The interface access token (stable_token) is cached in Redis for every process and fetched again this long
# before WeChat's expiry.
WECHAT_ACCESS_TOKEN_MARGIN_SECONDS = env.int("WECHAT_ACCESS_TOKEN_MARGIN_SECONDS", default=300)

# --- WeChat Pay API v3, JSAPI (mall/services/wechat_pay.py), enabled by naming it in PAYMENT_PROVIDERS ---
WECHATPAY_PROVIDER = "mall.services.wechat_pay.WeChatPayProvider"
WECHATPAY_MCHID = env.str("WECHATPAY_MCHID", default="")
WECHATPAY_APPID = env.str("WECHATPAY_APPID", default=WECHAT_MINIPROGRAM_APPID)
# The merchant's API private key (apiclient_key.pem): the PEM text itself, or the path of the file.
WECHATPAY_PRIVATE_KEY = env.str("WECHATPAY_PRIVATE_KEY", default="")
WECHATPAY_CERT_SERIAL_NO = env.str("WECHATPAY_CERT_SERIAL_NO", default="")
WECHATPAY_APIV3_KEY = env.str("WECHATPAY_APIV3_KEY", default="")
# WeChat Pay's platform public key (PEM text or path) and its id (PUB_KEY_ID_...); a platform certificate may be
# given instead, its serial number being the id (taken from the certificate when the id is empty).
WECHATPAY_PLATFORM_PUBLIC_KEY = env.str("WECHATPAY_PLATFORM_PUBLIC_KEY", default="")
WECHATPAY_PLATFORM_PUBLIC_KEY_ID = env.str("WECHATPAY_PLATFORM_PUBLIC_KEY_ID", default="")
# Where WeChat Pay posts its notices: https://<your host>/api/v1/payments/callback/wechatpay
WECHATPAY_NOTIFY_URL = env.str("WECHATPAY_NOTIFY_URL", default="")
WECHATPAY_BASE_URL = env.str("WECHATPAY_BASE_URL", default="https://api.mch.weixin.qq.com")
WECHATPAY_TIMEOUT_SECONDS = env.float("WECHATPAY_TIMEOUT_SECONDS", default=10.0)
# A notice whose Wechatpay-Timestamp is further than this from our clock is refused (replays of old notices).
WECHATPAY_NOTICE_MAX_AGE_SECONDS = env.int("WECHATPAY_NOTICE_MAX_AGE_SECONDS", default=300)

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.AccessTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.openapi.ApiAutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.SafeJSONParser",
        "core.parsers.SafeFormParser",
        "core.parsers.SafeMultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.api.PagePagination",
    "PAGE_SIZE": 20,
    "DEFAULT_THROTTLE_RATES": {
        "login_code_send": env.str("THROTTLE_LOGIN_CODE_SEND", default="5/min"),
        "login": env.str("THROTTLE_LOGIN", default="10/min"),
        "token_refresh": env.str("THROTTLE_TOKEN_REFRESH", default="30/min"),
        "wechat_phone": env.str("THROTTLE_WECHAT_PHONE", default="10/min"),
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="600/min"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "S2B2C 智能名片商城 API",
    "DESCRIPTION": "Mini-program style REST API of the S2B2C mall with AI business cards. "
    "Errors are always {code, message, detail}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {"CurrencyEnum": "engagement.models.Currency",
                            "SpendableCurrencyEnum": "engagement.models.SPENDABLE_CURRENCIES"},
    "TAGS": [
        {"name": "auth", "description": "登录与个人资料 Login by SMS code or WeChat, expiring tokens and their "
                                        "refresh, phone authorisation, the shopper's profile"},
        {"name": "catalogue", "description": "类目、地区与商品 Categories, provinces and listings (public)"},
        {"name": "cart", "description": "购物车 The shopper's cart"},
        {"name": "addresses", "description": "收货地址 The shopper's delivery addresses"},
        {"name": "orders", "description": "结算与订单 Checkout preview, order submission, cancel, confirm receipt"},
        {"name": "payments", "description": "支付 Start a payment; the providers' signed callbacks"},
        {"name": "cards", "description": "智能名片 Business cards: my cards, open a card by its share, forward it, "
                                     "track what visitors do"},
        {"name": "leads", "description": "线索与客户 A rep's leads and follow-ups; a manager reassigns customers"},
        {"name": "analytics", "description": "分享分析 Share-graph analytics of a rep's cards: propagation tree, "
                                         "people per level and second-level share ratio, top spreaders, the chain "
                                         "to a lead, attribution of an order"},
        {"name": "commission", "description": "分销佣金 Two-level rebates: balances, ledger, withdrawals"},
        {"name": "coupons", "description": "优惠券 Claimable coupons and the shopper's own"},
        {"name": "group-buys", "description": "拼团 Group-buy campaigns: open a team, join one, follow it"},
        {"name": "bargains", "description": "砍价 Bargain campaigns: start a session, friends help cut, buy"},
        {"name": "after-sales", "description": "售后 Refund and return requests of order lines"},
        {"name": "engagement", "description": "用户运营 Points, card energy and experience: balances and ledger, "
                                             "check-in, tasks and the onboarding checklist, member levels, the "
                                             "rewards catalogue and energy exchange"},
        {"name": "logistics", "description": "物流回调 Carriers' signed tracking pushes (no user calls these)"},
        {"name": "supplier", "description": "供应商接口 Suppliers' systems: inventory sync, Bearer supplier token"},
    ],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "tokenAuth": {"type": "apiKey", "in": "header", "name": "Authorization",
                          "description": "购物者访问令牌 Shopper access token from POST /api/v1/auth/login, "
                                         "/auth/wechat/login or /auth/refresh, sent as "
                                         "`Authorization: Token <access token>`; it expires (refresh it)"},
            "supplierToken": {"type": "http", "scheme": "bearer",
                              "description": "供应商令牌 A supplier's API token (issued in the supplier console), "
                                             "sent as `Authorization: Bearer <token>`"},
        },
    },
}

# --- Security in production ---
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
