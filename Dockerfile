# syntax=docker/dockerfile:1
# One image for every Python process of the stack: web (gunicorn), worker and beat (celery),
# actions (Rasa action server). docker-compose.yml picks the process with `command:`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings

WORKDIR /app

# Unprivileged runtime user. The code stays owned by root (read-only for the app);
# only /app/var is writable by it.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app

# Dependencies first, so code changes do not invalidate this layer.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# Static files are collected at build time. Settings insist on these variables at import time;
# the values below exist only for this RUN and are not baked into the image.
RUN DJANGO_SECRET_KEY=build-only \
    DATABASE_URL=postgres://x@localhost/x \
    REDIS_URL=redis://localhost:6379/0 \
    GRAPH_URL=bolt://localhost:7687 \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/var \
 && chown app:app /app/var

USER app

EXPOSE 8000

CMD ["gunicorn", "config.wsgi:application", "-c", "config/gunicorn.py", "--bind", "0.0.0.0:8000"]
