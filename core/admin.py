"""The operator admin's shared machinery (every app's admin.py builds on it) and the kernel's own tables.

- `ReadOnlyAdminMixin` / `ReadOnlyInline`: records of what happened are read, never edited by hand;
- `UndeletableAdminMixin`: rows that are switched off rather than deleted;
- `ServiceActionsMixin`: an admin action calls a service for each selected row, a refusal (a `DomainError`) is an
  error message for that row, never a 500; actions need the model's change permission (`permissions=["operate"]`);
- `YuanColumnsMixin` (in `OperatorModelAdmin`, `OperatorInline`, `ReadOnlyInline`): money reads "¥1,234.50";
- `ServiceSaveMixin`: a change form saves through a service while the form validates, so a refusal is a form error;
- `ExactSearchMixin`: the search box of a big table compares whole values on indexed columns.
"""
from collections.abc import Callable, Iterable

from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path, lookup_spawns_duplicates
from django.contrib.auth import get_permission_codename
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import DecimalField, Q
from django.forms.models import construct_instance
from django.utils.text import smart_split, unescape_string_literal
from unfold.admin import ModelAdmin, TabularInline

from core.errors import DomainError
from core.events import batch_consumers, consumer_lag, event_delivery_reset, kinds_declared
from core.ml.models import ModelVersion
from core.ml.registry import model_version_activate
from core.models import BehaviourEvent, EventCursor, EventDailyCount, EventDelivery
from core.money import yuan

EXACT = "__exact"


class ReadOnlyAdminMixin:
    """For records nobody edits by hand (events, payments, refunds): operators read them; state changes are admin
    actions that call services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class UndeletableAdminMixin:
    """For rows that records point to or that have no service to end them (suppliers, stores, listings, coupon
    templates, campaigns): operators switch them off, they never delete them."""

    def has_delete_permission(self, request, obj=None):
        return False


class YuanColumnsMixin:
    """For ModelAdmins and inlines: money fields (DecimalField with 2 places) read "¥1,234.50" in list columns and,
    where the admin declares its `fields`, in its read-only fields (an editable money field stays an input)."""

    def get_list_display(self, request):
        return [self._yuan_column(name) if self._money_field(name) else name
                for name in super().get_list_display(request)]

    def get_readonly_fields(self, request, obj=None):
        names = super().get_readonly_fields(request, obj)
        return [self._yuan_attribute(name) for name in names] if self.fields else names

    def get_fields(self, request, obj=None):
        names = super().get_fields(request, obj)
        if not self.fields:
            return names
        readonly = set(super().get_readonly_fields(request, obj))
        return [self._yuan_attribute(name) if name in readonly else name for name in names]

    def _money_field(self, name):
        if not isinstance(name, str) or name in (getattr(self, "list_editable", None) or ()):
            return None
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        return field if isinstance(field, DecimalField) and field.decimal_places == 2 else None

    def _yuan_column(self, name: str):
        field = self._money_field(name)

        def column(obj):
            return yuan(getattr(obj, name))

        column.__name__ = name
        column.short_description = field.verbose_name
        column.admin_order_field = name
        return column

    def _yuan_attribute(self, name):
        """The name of a read-only display of the money field `name` on this admin (made on first use)."""
        field = self._money_field(name)
        if field is None:
            return name
        attribute = f"{name}_yuan"
        if not hasattr(self, attribute):
            setattr(self, attribute, self._yuan_column(name))
        return attribute


class OperatorModelAdmin(YuanColumnsMixin, ModelAdmin):
    """The operator admin's ModelAdmin: unfold's, with every money column and read-only money field in ¥."""


class OperatorInline(YuanColumnsMixin, TabularInline):
    pass


class ReadOnlyInline(ReadOnlyAdminMixin, YuanColumnsMixin, TabularInline):
    """The rows of a record shown on its page (an order's lines, events, payments...), read-only."""

    extra = 0
    can_delete = False
    show_change_link = True


class ServiceActionsMixin:
    """Admin actions whose body calls a service. Declare them with `@admin.action(permissions=["operate"])`: only
    users who may change the model (every superuser) see them, also on a read-only admin."""

    def has_operate_permission(self, request) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")

    def run_service_on_each(self, request, queryset: Iterable, call: Callable, done: str,
                            label: Callable = str) -> int:
        """Call the service for every selected row; a refusal is an error message for that row (named by
        `label`), never a 500, and the other rows still go through. Each row that went through is written to the
        admin's history (who did it, when)."""
        count = 0
        for obj in queryset:
            try:
                call(obj)
            except DomainError as error:
                self.message_user(request, f"{label(obj)}: {error.message}", messages.ERROR)
            else:
                count += 1
                self.log_change(request, obj, done)
        if count:
            self.message_user(request, f"{done}: {count}", messages.SUCCESS)
        return count


class ServiceSaveMixin:
    """Set `save_through_service` (request, form, change) -> saved object to make the change form save through a
    service: it runs at the end of validation (inside the change view's transaction), a domain error becomes a form
    error on the field `service_error_fields` names for its code (else on the field the error's detail names, else
    on the whole form). The service saves the row's many-to-many fields too.

    `service_validates_row`: the service checks the whole row, so the model's own validation is skipped (its check
    constraints would refuse first with nothing but the constraint's name; they stay as the database's backstop).
    """

    save_through_service: Callable | None = None
    service_error_fields: dict[str, str] = {}
    service_validates_row = False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if self.save_through_service is None:
            return form_class
        model_admin = self

        class ServiceForm(form_class):
            def _post_clean(self):
                if model_admin.service_validates_row:
                    try:
                        self.instance = construct_instance(self, self.instance, self._meta.fields,
                                                           self._meta.exclude)
                    except ValidationError as error:
                        self._update_errors(error)
                else:
                    super()._post_clean()
                if self._errors:
                    return
                try:
                    with transaction.atomic():
                        saved = model_admin.save_through_service(request, self, change)
                except DomainError as error:
                    field = model_admin.service_error_field(error)
                    self.add_error(field if field in self.fields else None,
                                   ValidationError(error.message, code=error.code))
                    return
                self.instance = saved

        return ServiceForm

    def service_error_field(self, error: DomainError) -> str | None:
        """The form field a service's refusal belongs on (None: the whole form)."""
        named = error.detail.get("field") if isinstance(error.detail, dict) else None
        return self.service_error_fields.get(error.code) or named

    def save_model(self, request, obj, form, change):
        if self.save_through_service is not None:
            return  # the service saved it while the form validated
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if self.save_through_service is None:
            return super().save_related(request, form, formsets, change)
        for formset in formsets:  # the row's own many-to-many fields were the service's to save
            self.save_formset(request, form, formset, change=change)
        return None


class ExactSearchMixin:
    """For big tables: every entry of `search_fields` is `<path>__exact`, and a search term matches a row when it
    is the whole value of one of those columns, compared as the column's type (`number = 'X'`, `actor_id = 42`), so
    the column's index answers. A term that cannot be a value of a column (letters for an id, too long for the
    column) is not compared with it.

    Django's own `=path` is `UPPER(path) = UPPER(term)`, which no b-tree index serves, and its `path__exact` on a
    number column casts the column to text: both read the whole table, and a non-number compared with an id
    column without the cast is a 500."""

    search_help_text = "按完整的值搜索，如完整的订单号、手机号 (whole values only: a full order number, phone...)"

    def get_search_results(self, request, queryset, search_term):
        names = list(self.get_search_fields(request))
        if not search_term or not names or not all(name.endswith(EXACT) for name in names):
            return super().get_search_results(request, queryset, search_term)
        paths = [name.removesuffix(EXACT) for name in names]
        fields = [get_fields_from_path(self.model, path)[-1] for path in paths]
        for bit in smart_split(search_term):
            term = unescape_string_literal(bit) if bit.startswith(('"', "'")) and bit[0] == bit[-1] else bit
            matches = [Q(**{path: value}) for path, field in zip(paths, fields, strict=True)
                       if (value := _column_value(field, term)) is not None]
            if not matches:
                return queryset.none(), False
            queryset = queryset.filter(Q.create(matches, connector=Q.OR))
        return queryset, any(lookup_spawns_duplicates(self.opts, path) for path in paths)


def _column_value(field, term: str):
    """`term` as a value of the column (a foreign key: of the column it points to), or None if it cannot be one."""
    target = getattr(field, "target_field", None) or field
    try:
        value = target.to_python(term)
        target.run_validators(value)
    except ValidationError:
        return None
    return value


class EventKindFilter(admin.SimpleListFilter):
    """The declared event kinds: listed from the catalogue, never by reading the (large) table for its values."""

    title = "类型 kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind.name, kind.name) for kind in sorted(kinds_declared(), key=lambda kind: kind.name)]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(BehaviourEvent)
class BehaviourEventAdmin(ExactSearchMixin, ReadOnlyAdminMixin, ModelAdmin):
    """Append-only: operators read events, nobody edits them."""

    icon = "timeline"
    list_display = ("id", "kind", "actor_id", "visitor_id", "object_type", "object_id", "created_at")
    list_filter = (EventKindFilter,)
    search_fields = ("kind__exact", "object_id__exact", "visitor_id__exact", "actor__exact")
    date_hierarchy = "created_at"
    readonly_fields = ("kind", "actor_id", "visitor_id", "object_type", "object_id", "payload", "created_at",
                       "transaction_id")
    fields = readonly_fields
    show_full_result_count = False  # the table grows large; COUNT(*) on every page would be slow


@admin.register(EventDelivery)
class EventDeliveryAdmin(ExactSearchMixin, ServiceActionsMixin, ModelAdmin):
    icon = "outbox"
    list_display = ("event_id", "kind", "handler", "attempts", "created_at", "attempted_at", "done_at", "last_error")
    list_filter = (EventKindFilter, "handler", ("done_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id__exact",)
    date_hierarchy = "created_at"
    readonly_fields = ("event_id", "kind", "handler", "attempts", "last_error", "created_at", "attempted_at",
                       "done_at")
    actions = ["retry_deliveries"]
    show_full_result_count = False  # one row per event and handler

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="重新投递 Retry the selected failed deliveries", permissions=["operate"])
    def retry_deliveries(self, request, queryset):
        count = 0
        for delivery in queryset.filter(done_at__isnull=True):
            event_delivery_reset(delivery_id=delivery.pk)
            count += 1
        self.message_user(request, f"已重新投递 {count} 条 ({count} deliveries queued again)", messages.SUCCESS)


@admin.register(EventCursor)
class EventCursorAdmin(ModelAdmin):
    """Where each batch consumer stands, and how far behind it is."""

    icon = "bookmark"
    list_display = ("consumer", "processed", "pending", "lag_seconds", "last_event_at", "last_run_at", "last_error")
    search_fields = ("consumer",)
    list_filter = (("last_error", admin.EmptyFieldListFilter),)
    date_hierarchy = "last_run_at"
    readonly_fields = ("consumer", "transaction_id", "event_id", "processed", "last_event_at", "last_run_at",
                       "last_error")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _lag(self, cursor: EventCursor) -> dict:
        known = {consumer.name for consumer in batch_consumers()}
        return consumer_lag(name=cursor.consumer) if cursor.consumer in known else {}

    @admin.display(description="待处理 pending")
    def pending(self, cursor: EventCursor):
        return self._lag(cursor).get("pending", "-")

    @admin.display(description="延迟(秒) lag s")
    def lag_seconds(self, cursor: EventCursor):
        return self._lag(cursor).get("lag_seconds", "-")


@admin.register(EventDailyCount)
class EventDailyCountAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Written by the `core.event_daily_counts` batch consumer only."""

    icon = "bar_chart"
    list_display = ("day", "kind", "count")
    list_filter = (EventKindFilter,)
    search_fields = ("kind",)
    date_hierarchy = "day"
    ordering = ("-day", "kind")
    fields = ("day", "kind", "count")


@admin.register(ModelVersion)
class ModelVersionAdmin(ServiceActionsMixin, ReadOnlyAdminMixin, ModelAdmin):
    """Trained model versions (core/ml/registry.py): their metrics and why they are or are not in use. Operators
    read them and may put another version in use (a roll-back); training registers them, nobody edits them."""

    icon = "model_training"
    list_display = ("name", "version", "status", "held_out_auc", "held_out_ece", "trained_at", "activated_at", "note")
    list_filter = ("name", "status")
    search_fields = ("name",)
    ordering = ("name", "-version")
    fields = ("name", "version", "status", "note", "trained_at", "activated_at", "artefact_format",
              "artefact_sha256", "metrics", "params")
    actions = ["activate_versions"]

    @admin.display(description="AUC (held out)")
    def held_out_auc(self, version: ModelVersion):
        value = (version.metrics.get("held_out") or {}).get("auc")
        return f"{value:.3f}" if isinstance(value, int | float) else "-"

    @admin.display(description="ECE (held out, as scored)")
    def held_out_ece(self, version: ModelVersion):
        report = version.metrics.get("held_out_walk_forward") or version.metrics.get("held_out") or {}
        value = report.get("ece")
        return f"{value:.3f}" if isinstance(value, int | float) else "-"

    @admin.action(description="启用所选版本 Put the selected version in use", permissions=["operate"])
    def activate_versions(self, request, queryset):
        self.run_service_on_each(
            request, queryset, lambda version: model_version_activate(name=version.name, version=version.version),
            done="已启用 activated")
