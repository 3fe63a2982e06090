import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_every_part_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {body[part]["status"] for part in ("database", "broker", "graph")} == {"ok"}


def test_healthz_is_503_and_names_the_part_that_is_down(client, settings):
    settings.GRAPH_URL = "falkordb://127.0.0.1:9"  # nothing listens on the discard port
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["graph"]
    assert body["database"]["status"] == "ok" and body["broker"]["status"] == "ok"
    assert body["graph"]["error"]

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    assert client.get("/healthz").json()["failed"] == ["broker", "graph"]


def test_openapi_schema_lists_the_v1_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/auth/login" in paths and "/api/v1/auth/code" in paths
    assert all(path.startswith("/api/v1/") for path in paths)


def test_swagger_ui_is_served_without_internet(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html  # assets come from the sidecar package, locally
    static = [part.split('"')[0] for part in html.split('src="')[1:]]
    assert static, "the page loads its scripts"
    for url in static:
        assert client.get(url).status_code == 200, url


def test_unknown_api_paths_and_methods_answer_in_the_error_shape(client, shopper_client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    response = shopper_client.delete("/api/v1/me")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
