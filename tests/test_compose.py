"""Static checks of the production stack: docker-compose.yml, Dockerfile, .env.example and rasa/.

Pure file parsing: no Docker, no Django settings, no database.
"""

import functools
import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
RASA_DIR = ROOT / "rasa"

REQUIRED_SERVICES = ("postgres", "redis", "neo4j", "minio", "minio-init", "rasa", "web", "worker", "beat", "actions")
APP_SERVICES = ("web", "worker", "beat", "actions")
APP_CONNECTION_VARS = ("DATABASE_URL", "REDIS_URL", "GRAPH_URL", "DJANGO_SECRET_KEY")
WORKER_QUEUES = {"default", "graph", "ml", "media"}
MIN_NLU_EXAMPLES = 8

# $$ (escaped dollar), ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


# --- helpers -------------------------------------------------------------------------------------


@functools.cache
def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _services() -> dict:
    return _compose()["services"]


@functools.cache
def _env_example() -> dict:
    """KEY=VALUE lines of .env.example (comments and blank lines skipped)."""
    values = {}
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f".env.example: not KEY=VALUE: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.removeprefix("export ").strip()] = value
    return values


def _interpolate(text: str) -> str:
    """Compose-style ${VAR} substitution, using .env.example as the .env file."""
    env = _env_example()

    def replace(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        value = env.get(name)
        op, arg = match["op"], match["arg"]
        if op in (":-", "-") and not value:
            return arg
        assert value is not None, f"${{{name}}} is not set in .env.example"
        return value

    return _INTERPOLATION.sub(replace, text)


def _interpolate_all(env: dict) -> dict:
    return {key: _interpolate(value) for key, value in env.items()}


def _referenced_variables(node) -> set:
    """Variables that Compose substitutes: those in the parsed values (comments are not interpolated)."""
    if isinstance(node, dict):
        return set().union(*(_referenced_variables(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_referenced_variables(value) for value in node))
    if isinstance(node, str):
        return {m["braced"] or m["bare"] for m in _INTERPOLATION.finditer(node) if not m["escaped"]}
    return set()


def _environment(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: ("" if value is None else str(value)) for key, value in env.items()}


def _env_files(service: dict) -> list:
    files = service.get("env_file") or []
    if isinstance(files, (str, dict)):
        files = [files]
    return [f["path"] if isinstance(f, dict) else f for f in files]


def _effective_env(name: str) -> dict:
    """What the container sees: env_file .env (stood in for by .env.example), then environment."""
    service = _services()[name]
    env = {}
    for path in _env_files(service):
        if Path(path).name == ".env":
            env.update(_env_example())
    env.update(_interpolate_all(_environment(service)))
    return env


def _depends_on(service: dict) -> dict:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return {name: (spec or {}) for name, spec in deps.items()}


def _command(service: dict) -> list:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _has_healthcheck(service: dict) -> bool:
    check = service.get("healthcheck") or {}
    return bool(check.get("test")) and not check.get("disable", False) and check.get("test") != ["NONE"]


def _url(service_name: str, var: str):
    env = _effective_env(service_name)
    assert env.get(var), f"{service_name} has no {var}"
    return urlsplit(env[var])


def _nlu_examples() -> dict:
    data = yaml.safe_load((RASA_DIR / "data" / "nlu.yml").read_text(encoding="utf-8"))
    examples = {}
    for item in data.get("nlu") or []:
        if "intent" not in item:
            continue
        lines = [line.strip() for line in (item.get("examples") or "").splitlines()]
        texts = [line[1:].strip() for line in lines if line.startswith("-") and line[1:].strip()]
        examples.setdefault(item["intent"], []).extend(texts)
    return examples


def _domain() -> dict:
    return yaml.safe_load((RASA_DIR / "domain.yml").read_text(encoding="utf-8"))


def _domain_intents() -> list:
    return [next(iter(i)) if isinstance(i, dict) else i for i in _domain().get("intents") or []]


# --- docker-compose.yml --------------------------------------------------------------------------


def test_compose_defines_every_service_the_settings_need():
    missing = [name for name in REQUIRED_SERVICES if name not in _services()]
    assert not missing, f"docker-compose.yml lacks services: {missing}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_gets_connection_settings(name):
    env = _effective_env(name)
    missing = [var for var in APP_CONNECTION_VARS if not env.get(var)]
    assert not missing, f"{name} does not get {missing} (environment or env_file .env + .env.example)"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_runs_without_debug(name):
    assert _effective_env(name).get("DJANGO_DEBUG") in ("0", "False", "false", "off", "no")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_graph_url_points_at_the_neo4j_service(name):
    url = _url(name, "GRAPH_URL")
    assert url.scheme in ("neo4j", "bolt"), url.geturl()
    assert url.hostname == "neo4j" and "neo4j" in _services()
    assert url.username == "neo4j"
    assert url.password == _env_example()["NEO4J_PASSWORD"]
    neo4j_auth = _interpolate(_environment(_services()["neo4j"])["NEO4J_AUTH"])
    assert neo4j_auth == f"{url.username}/{url.password}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_database_url_points_at_the_postgres_service(name):
    url = _url(name, "DATABASE_URL")
    postgres = _interpolate_all(_environment(_services()["postgres"]))
    assert url.scheme in ("postgres", "postgresql", "pgsql"), url.geturl()
    assert url.hostname == "postgres" and "postgres" in _services()
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == postgres["POSTGRES_DB"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_redis_url_points_at_the_redis_service(name):
    url = _url(name, "REDIS_URL")
    assert url.scheme in ("redis", "rediss"), url.geturl()
    assert url.hostname == "redis" and "redis" in _services()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_media_storage_points_at_the_minio_service(name):
    env = _effective_env(name)
    endpoint = urlsplit(env["MEDIA_S3_ENDPOINT_URL"])
    assert endpoint.hostname == "minio" and "minio" in _services()
    assert "--console-address" in _command(_services()["minio"]) and endpoint.port == 9000
    minio = _interpolate_all(_environment(_services()["minio"]))
    assert env["MEDIA_S3_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert env["MEDIA_S3_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    assert len(minio["MINIO_ROOT_PASSWORD"]) >= 8  # MinIO refuses to start with a shorter one
    # browsers fetch pictures from the bucket's public address: the published port, the same bucket
    host, _, bucket = env["MEDIA_S3_CUSTOM_DOMAIN"].partition("/")
    assert bucket == env["MEDIA_S3_BUCKET"] and env["MEDIA_S3_URL_PROTOCOL"] in ("http:", "https:")
    assert any(str(port).endswith(":9000") for port in _services()["minio"].get("ports", [])), host


def test_the_pictures_bucket_exists_and_is_readable_before_the_app_starts():
    init = _services()["minio-init"]
    script = " ".join(_command(init))
    bucket = _effective_env("web")["MEDIA_S3_BUCKET"]
    assert f"mc mb --ignore-existing local/{bucket}" in script
    assert f"mc anonymous set download local/{bucket}" in script  # read objects, not list the bucket
    assert _depends_on(init)["minio"]["condition"] == "service_healthy"
    init_env = _interpolate_all(_environment(init))
    assert init_env == {key: value for key, value in _interpolate_all(_environment(_services()["minio"])).items()
                        if key.startswith("MINIO_ROOT_")}
    for name in APP_SERVICES:
        assert _depends_on(_services()[name]).get("minio-init", {}).get("condition") == (
            "service_completed_successfully"), name


def test_every_depends_on_target_exists():
    services = _services()
    dangling = [
        (name, target)
        for name, service in services.items()
        for target in _depends_on(service)
        if target not in services
    ]
    assert not dangling, f"depends_on targets that are not services: {dangling}"


def test_services_awaited_as_healthy_have_a_healthcheck():
    services = _services()
    awaited = {
        target
        for service in services.values()
        for target, spec in _depends_on(service).items()
        if spec.get("condition") == "service_healthy"
    }
    assert awaited, "no service waits for a healthy dependency"
    without = sorted(t for t in awaited if t in services and not _has_healthcheck(services[t]))
    assert not without, f"awaited with service_healthy but no healthcheck: {without}"


def test_web_waits_for_the_backing_services():
    deps = _depends_on(_services()["web"])
    for backing in ("postgres", "redis", "neo4j"):
        assert deps.get(backing, {}).get("condition") == "service_healthy", backing


def test_worker_consumes_every_queue():
    command = _command(_services()["worker"])
    assert command[:1] == ["celery"] and "worker" in command, command
    queues = set()
    for i, part in enumerate(command):
        if part in ("-Q", "--queues") and i + 1 < len(command):
            queues.update(command[i + 1].split(","))
        elif part.startswith("--queues="):
            queues.update(part.split("=", 1)[1].split(","))
    declared = set(re.findall(r"""Queue\(\s*["'](\w+)["']""", (ROOT / "config" / "celery.py").read_text()))
    assert queues >= WORKER_QUEUES, f"worker consumes {sorted(queues)}"
    assert declared <= queues, f"config/celery.py declares {sorted(declared)}, worker consumes {sorted(queues)}"


def test_every_compose_variable_is_in_env_example():
    referenced = _referenced_variables(_compose())
    assert referenced, "docker-compose.yml references no ${VAR}: secrets would be hard-coded"
    missing = sorted(referenced - set(_env_example()))
    assert not missing, f".env.example lacks {missing}"


def test_env_example_documents_each_variable():
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            assert i > 0 and lines[i - 1].startswith("#"), f"no comment above {line!r}"
    for var in (
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DJANGO_CSRF_TRUSTED_ORIGINS",
        "POSTGRES_PASSWORD",
        "NEO4J_PASSWORD",
        "SMS_BACKEND",
        "LOG_LEVEL",
    ):
        assert var in _env_example(), var


def _mounts(service: dict) -> list:
    """(source, target) of each short-syntax volume."""
    return [tuple(str(m).split(":")[:2]) for m in service.get("volumes") or [] if ":" in str(m)]


def test_named_volumes_keep_the_data():
    volumes = set(_compose().get("volumes") or {})
    for service, target in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data"), ("neo4j", "/data"),
                            ("minio", "/data")):
        sources = [source for source, mount_target in _mounts(_services()[service]) if mount_target == target]
        assert sources, f"{service} does not persist {target}"
        assert sources[0] in volumes, f"{service}: {target} is not on a named volume"


# --- Dockerfile ----------------------------------------------------------------------------------


def _dockerfile_instructions() -> list:
    text = DOCKERFILE.read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    instructions = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_cmd_runs_gunicorn():
    assert DOCKERFILE.is_file()
    cmds = [rest for keyword, rest in _dockerfile_instructions() if keyword == "CMD"]
    assert cmds, "Dockerfile has no CMD"
    cmd = cmds[-1]
    argv = json.loads(cmd) if cmd.startswith("[") else shlex.split(cmd)
    assert argv[0] == "gunicorn", argv
    assert any(arg.startswith("config.wsgi") for arg in argv), argv


def test_dockerfile_runs_as_non_root_and_collects_static():
    instructions = _dockerfile_instructions()
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert any(k == "RUN" and "collectstatic" in rest for k, rest in instructions)


# --- rasa/ ---------------------------------------------------------------------------------------


def test_every_domain_intent_has_nlu_examples():
    intents = _domain_intents()
    assert intents, "rasa/domain.yml declares no intents"
    examples = _nlu_examples()
    thin = {i: len(examples.get(i, [])) for i in intents if len(examples.get(i, [])) < MIN_NLU_EXAMPLES}
    assert not thin, f"intents with fewer than {MIN_NLU_EXAMPLES} NLU examples: {thin}"
    unknown = sorted(set(examples) - set(intents))
    assert not unknown, f"NLU intents missing from rasa/domain.yml: {unknown}"


def test_rules_use_domain_intents_and_responses():
    rules = yaml.safe_load((RASA_DIR / "data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    intents = set(_domain_intents())
    responses = set(_domain().get("responses") or {})
    for rule in rules:
        for step in rule["steps"]:
            if "intent" in step:
                assert step["intent"] in intents, rule
            if str(step.get("action", "")).startswith("utter_"):
                assert step["action"] in responses, rule


def test_rasa_action_endpoint_is_the_actions_service():
    endpoints = yaml.safe_load((RASA_DIR / "endpoints.yml").read_text(encoding="utf-8"))
    url = urlsplit(endpoints["action_endpoint"]["url"])
    assert url.hostname == "actions" and "actions" in _services()
    command = _command(_services()["actions"])
    assert "rasa_sdk" in command
    assert str(url.port) == command[command.index("--port") + 1]
    assert ("./rasa", "/app") in _mounts(_services()["rasa"])
