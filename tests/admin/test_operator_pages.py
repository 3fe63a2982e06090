"""The operator admin at /admin/ holds every model of core, accounts, supply, mall and cards: as an operator, each
model's changelist, a search, every filter, a date drill-down, the change page (and the add page where adding is
allowed) answer 200. A model added later without an admin fails the first test."""
import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from core.money import yuan
from tests.admin.conftest import world_build
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OUR_APPS = ("core", "accounts", "supply", "mall", "cards")
OUR_MODELS = sorted((model for model in admin.site._registry if model._meta.app_label in OUR_APPS),
                    key=lambda model: model._meta.label)


def url_of(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_model_of_our_apps_has_a_themed_admin_with_an_icon():
    # A proxy model is another view of a table the operator admin already shows (the console's analytics page).
    missing = [model._meta.label for app in OUR_APPS for model in apps.get_app_config(app).get_models()
               if model not in admin.site._registry and not model._meta.proxy]
    assert missing == [], f"models without an operator admin: {missing}"
    for model in OUR_MODELS:
        model_admin = admin.site._registry[model]
        assert isinstance(model_admin, ModelAdmin), model._meta.label
        assert getattr(model_admin, "icon", ""), f"{model._meta.label} has no sidebar icon"
        for inline in model_admin.inlines:
            assert issubclass(inline, TabularInline | StackedInline), inline


def search_term(model, model_admin, obj) -> str | None:
    """The whole value of the first search field the row has a value for, quoted as one term."""
    for name in model_admin.search_fields:
        path = name.lstrip("^=@").removesuffix("__exact")
        value = model._default_manager.filter(pk=obj.pk).values_list(path, flat=True).first()
        if value not in (None, ""):
            return f'"{value}"'
    return None


def local_day(moment):
    return timezone.localtime(moment).date() if hasattr(moment, "tzinfo") else moment


@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda model: model._meta.label)
def test_every_admin_page_answers_an_operator(operator_client, world, model):
    model_admin = admin.site._registry[model]
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the world fixture has no {model._meta.label}: add one"
    changelist = url_of(model, "changelist")

    response = operator_client.get(changelist)
    assert response.status_code == 200
    cl = response.context["cl"]
    assert cl.result_count >= 1

    term = search_term(model, model_admin, obj)
    if model_admin.search_fields:
        assert term is not None, f"{model._meta.label}: the world's row has none of the searched values"
        response = operator_client.get(changelist, {"q": term})
        assert response.status_code == 200
        assert obj.pk in [row.pk for row in response.context["cl"].result_list], term

    for spec in cl.filter_specs:
        choice = next((choice for choice in spec.choices(cl) if not choice["selected"]), None)
        if choice is not None:
            response = operator_client.get(changelist + choice["query_string"])
            assert response.status_code == 200, choice["query_string"]

    if model_admin.date_hierarchy:
        path = model_admin.date_hierarchy
        moment = (model._default_manager.filter(**{f"{path}__isnull": False}).order_by("pk")
                  .values_list(path, flat=True).first())
        assert moment is not None, f"{model._meta.label}: no row has a {path}"
        day = local_day(moment)
        response = operator_client.get(changelist, {f"{path}__year": day.year, f"{path}__month": day.month,
                                                    f"{path}__day": day.day})
        assert response.status_code == 200 and response.context["cl"].result_count >= 1

    response = operator_client.get(url_of(model, "change", quote(obj.pk)))
    assert response.status_code == 200
    if model_admin.has_add_permission(response.wsgi_request):
        assert operator_client.get(url_of(model, "add")).status_code == 200


def test_a_search_term_that_cannot_be_a_value_of_a_number_column_finds_nothing_instead_of_failing(operator_client,
                                                                                                 world):
    from core.models import BehaviourEvent
    from mall.models import GroupBuyTeam

    for model in (BehaviourEvent, GroupBuyTeam):  # their search fields include an id column
        for term in ("not-a-number", "99999999999999999999999"):
            response = operator_client.get(url_of(model, "changelist"), {"q": term})
            assert response.status_code == 200 and response.context["cl"].result_count == 0


def test_money_is_shown_in_yuan(operator_client, world):
    content = operator_client.get("/admin/mall/order/").content.decode()
    assert yuan(world.shipped.total) in content


def test_a_non_staff_user_is_sent_to_the_login_page(client, db):
    for user in (None, UserFactory()):
        if user is not None:
            client.force_login(user)
        for path in ("/admin/", "/admin/mall/order/", "/admin/supply/supplier/", "/admin/supply/supplier/add/"):
            response = client.get(path)
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), path


def changelist_queries(client, model) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url_of(model, "changelist")).status_code == 200
    return len(queries)


def test_no_changelist_makes_a_query_per_row(operator_client, world, address):
    before = {model: changelist_queries(operator_client, model) for model in OUR_MODELS}
    world_build(supplier=world.supplier, listing=world.listing, buyer=world.buyer, address=address, key="again")
    after = {model: changelist_queries(operator_client, model) for model in OUR_MODELS}
    grew = {model._meta.label: (before[model], after[model]) for model in OUR_MODELS if after[model] > before[model]}
    assert grew == {}
