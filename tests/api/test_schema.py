"""What the OpenAPI schema declares, for a developer who generates a client from it."""
import re

import pytest
from rest_framework.test import APIClient

CJK = re.compile(r"[\u4e00-\u9fff]")
METHODS = ("get", "post", "put", "patch", "delete")
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method in METHODS:
                yield path, method, operation


def test_every_operation_has_a_chinese_and_english_summary_and_a_described_tag(schema):
    described = {tag["name"] for tag in schema["tags"] if tag.get("description")}
    for path, method, operation in operations(schema):
        summary = operation.get("summary", "")
        assert CJK.search(summary) and re.search(r"[A-Za-z]{3}", summary), (method, path, summary)
        assert operation["tags"] and set(operation["tags"]) <= described, (method, path, operation["tags"])


def test_the_error_body_is_one_component_and_every_operation_documents_its_errors(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "detail"}
    assert error["properties"]["detail"].get("nullable") is True
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        assert "400" in responses, (method, path)
        for status, response in responses.items():
            if status.startswith("4"):
                assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF, (method, path, status)
        if "{" in path:
            assert "404" in responses, (method, path)
        if any(requirement for requirement in operation.get("security", [])):
            assert "401" in responses, (method, path)


def test_paginated_lists_are_typed_as_pages_with_their_query_parameters(schema):
    paginated = {"/api/v1/listings", "/api/v1/orders", "/api/v1/coupons", "/api/v1/coupons/mine",
                 "/api/v1/group-buys", "/api/v1/bargains", "/api/v1/after-sales"}
    for path in paginated:
        operation = schema["paths"][path]["get"]
        reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
        assert set(page["required"]) == {"count", "next", "previous", "results"}, path
        assert page["properties"]["results"]["type"] == "array", path
        assert {"page", "page_size"} <= {parameter["name"] for parameter in operation["parameters"]}, path
    filters = {parameter["name"] for parameter in schema["paths"]["/api/v1/listings"]["get"]["parameters"]}
    assert {"q", "category", "store", "min_price", "max_price", "ordering"} <= filters
    # the cart is one object grouped by store, the addresses a whole list: neither is a page
    cart = schema["paths"]["/api/v1/cart"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert cart["$ref"].endswith("/CartOutput")
    addresses = schema["paths"]["/api/v1/addresses"]["get"]["responses"]["200"]["content"]["application/json"]
    assert addresses["schema"]["type"] == "array"


def test_the_shopper_token_and_the_supplier_bearer_schemes_are_declared(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"] == {**schemes["tokenAuth"], "type": "apiKey", "in": "header", "name": "Authorization"}
    assert schemes["supplierToken"]["type"] == "http" and schemes["supplierToken"]["scheme"] == "bearer"
    assert schema["paths"]["/api/v1/supplier/stock"]["put"]["security"] == [{"supplierToken": []}]
    assert {"tokenAuth": []} in schema["paths"]["/api/v1/orders"]["post"]["security"]
    assert {} not in schema["paths"]["/api/v1/orders"]["post"]["security"]


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_a_json_404_in_every_mode(settings, debug, method):
    settings.DEBUG = debug
    for path in ("/api/v1/no-such-thing", "/api/nothing/here", "/api/v1/orders/abc/cancel"):
        response = getattr(APIClient(enforce_csrf_checks=True), method)(path)
        assert response.status_code == 404, (path, response.status_code)
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"code": "not_found", "message": "接口不存在", "detail": None}
