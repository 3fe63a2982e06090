"""gunicorn settings shared by `make run`, the benchmarks and production (docker-compose): 2 worker processes with
4 threads each (the machine has 2 cores; threads overlap database waits). Override with GUNICORN_WORKERS /
GUNICORN_THREADS."""
import os

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 60
keepalive = 5
