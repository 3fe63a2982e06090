"""Every page of the merchant and supplier consoles a member can reach answers without a 500: for each model
registered on a console, as a member of the world's store or supplier (not an operator), the changelist, every
filter, the change page of one of the member's rows and the add page where adding is allowed."""
import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

import cards.console  # noqa: F401  (registers the cards pages on the merchant console, as config/urls.py does)
from accounts.models import Role
from mall.consoles import merchant_console
from supply.console import supplier_console
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CONSOLES = {"merchant": merchant_console, "supplier": supplier_console}
PAGES = [(site, model) for site, console in CONSOLES.items()
         for model in sorted(console._registry, key=lambda model: model._meta.label)]


def _member(site: str, world):
    if site == "merchant":
        return world.listing.store.owner
    member = UserFactory(role=Role.SUPPLIER_STAFF)
    world.supplier.staff.add(member)
    return member


@pytest.mark.parametrize(("site", "model"), PAGES, ids=lambda value: (getattr(value, "_meta", None) and
                         value._meta.label) or value)
def test_every_console_page_answers_its_member(client, world, site, model):
    console = CONSOLES[site]
    client.force_login(_member(site, world))
    name = f"{console.name}:{model._meta.app_label}_{model._meta.model_name}"
    model_admin = console._registry[model]

    changelist = client.get(reverse(f"{name}_changelist"))
    assert changelist.status_code == 200, changelist.content[:500]
    for list_filter in changelist.context["cl"].filter_specs:
        for choice in list_filter.choices(changelist.context["cl"]):
            query = choice["query_string"]
            response = client.get(reverse(f"{name}_changelist") + query)
            assert response.status_code == 200, (query, response.status_code)

    request = changelist.wsgi_request
    own = model_admin.get_queryset(request).order_by("pk").first()
    assert own is not None, f"the world has no {model._meta.label} of this {site}'s member: add one"
    change = client.get(reverse(f"{name}_change", args=[quote(own.pk)]))
    assert change.status_code == 200, change.content[:500]
    if model_admin.has_add_permission(request):
        assert client.get(reverse(f"{name}_add")).status_code == 200


def test_the_console_dashboards_answer_their_members(client, world):
    for site in CONSOLES:
        client.force_login(_member(site, world))
        response = client.get(f"/{site}/")
        assert response.status_code == 200
        assert response.context["dashboard"]["charts"]
