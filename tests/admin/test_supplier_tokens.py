"""Supplier API tokens: issued when an operator signs a supplier up, replaced by the rotate action or the
`supplier_token_rotate` command; each token is shown once (the message right after it was issued) and only its
hash is stored; a replaced token is refused by the supplier API at once."""
import hashlib
from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse

from core.errors import NotFound
from supply import services
from supply.models import Supplier
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def sync(api_client, token: str):
    return api_client.put("/api/v1/supplier/stock", {"batch_id": "token-check", "rows": [
        {"sku": "NOPE", "quantity": 1, "as_of": "2026-01-01T00:00:00Z"}]}, format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}")


def token_in_messages(response) -> str:
    """The token shown in the success message (the last word of "… shown this once only: <token>")."""
    shown = [str(message) for message in get_messages(response.wsgi_request) if "shown this once only" in str(message)]
    assert len(shown) == 1, shown
    return shown[0].rsplit(" ", 1)[1]


def test_onboarding_a_supplier_shows_its_token_once_and_stores_only_the_hash(operator_client, api_client):
    staff = UserFactory(role="supplier_staff")
    response = operator_client.post(reverse("admin:supply_supplier_add"), {
        "name": "杭州新供应链有限公司", "contact_name": "周经理", "contact_phone": "13700000000", "staff": [staff.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]
    token = token_in_messages(response)
    supplier = Supplier.objects.get(name="杭州新供应链有限公司")
    assert list(supplier.staff.all()) == [staff]
    assert supplier.api_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Supplier.objects.filter(pk=supplier.pk).values().get())

    shown = operator_client.get(response["Location"])  # the page after the save shows it...
    assert token in shown.content.decode()
    for page in (reverse("admin:supply_supplier_changelist"),  # ...and no page after that
                 reverse("admin:supply_supplier_change", args=[supplier.pk])):
        assert token not in operator_client.get(page).content.decode(), page
    assert sync(api_client, token).status_code == 200


def test_onboarding_a_taken_name_is_a_form_error_and_issues_nothing(operator_client, supplier):
    response = operator_client.post(reverse("admin:supply_supplier_add"), {"name": supplier.name})
    assert response.status_code == 200 and "name" in response.context["adminform"].form.errors
    assert Supplier.objects.count() == 1
    assert not [message for message in get_messages(response.wsgi_request) if "shown this once" in str(message)]


def test_editing_a_suppliers_contact_keeps_its_token(operator_client, supplier, api_client):
    token_hash = supplier.api_token_hash
    response = operator_client.post(reverse("admin:supply_supplier_change", args=[supplier.pk]), {
        "name": supplier.name, "contact_name": "李经理", "contact_phone": "13600000000", "staff": []})
    assert response.status_code == 302, response.content.decode()[:2000]
    supplier.refresh_from_db()
    assert (supplier.contact_name, supplier.api_token_hash) == ("李经理", token_hash)
    assert not [message for message in get_messages(response.wsgi_request) if "shown this once" in str(message)]
    assert sync(api_client, supplier.issued_token).status_code == 200


def test_rotating_a_token_refuses_the_old_one_at_once(operator_client, supplier, api_client):
    old = supplier.issued_token
    assert sync(api_client, old).status_code == 200

    response = operator_client.post(reverse("admin:supply_supplier_changelist"),
                                    {"action": "rotate_token", "_selected_action": [supplier.pk]})
    assert response.status_code == 302
    new = token_in_messages(response)
    assert new != old

    refused = sync(api_client, old)
    assert refused.status_code == 401 and refused.json()["code"] == "supplier_token_invalid"
    assert sync(api_client, new).status_code == 200
    assert new in operator_client.get(response["Location"]).content.decode()  # shown on the next page only
    assert new not in operator_client.get(reverse("admin:supply_supplier_change", args=[supplier.pk])).content.decode()


def test_the_command_prints_a_new_token_once_and_the_old_one_stops_working(supplier, api_client):
    old = supplier.issued_token
    out = StringIO()
    call_command("supplier_token_rotate", supplier.name, stdout=out)
    new = out.getvalue().strip().splitlines()[-1]
    assert sync(api_client, old).status_code == 401
    assert sync(api_client, new).status_code == 200
    out = StringIO()
    call_command("supplier_token_rotate", str(supplier.pk), stdout=out)  # by id too
    assert sync(api_client, new).status_code == 401


def test_rotating_an_unknown_supplier_is_refused():
    with pytest.raises(NotFound):
        services.supplier_token_rotate(supplier_id=0, actor=None)


def test_a_supplier_created_outside_onboarding_has_no_working_token(api_client):
    supplier = Supplier.objects.create(name="未签发令牌的供应商")
    assert len(supplier.api_token_hash) == 64
    assert sync(api_client, supplier.api_token_hash).status_code == 401  # the hash itself is no token
