"""The supplier console (供应商工作台) at /supplier/: a Django admin site scoped to the suppliers a user works for.

It also holds the small machinery both consoles share (the merchant console in `mall/consoles.py` builds on it):
- `ConsoleSite` admits the members of an organisation (a supplier, a store) instead of `is_staff` users, and every
  operator (superuser), who sees everything;
- `ScopedAdminMixin` makes "is a member of this console" the permission, limits querysets and foreign-key choices to
  the member's own rows and sets the owner on save;
- an admin with `save_through_service` saves its form through a service while the form validates, so a refusal
  from the service is a form error, never a 500.

Stock numbers are shown, never edited: they change only through the inventory sync API and `supply.services`.
Shipping ("order lines to ship") is registered on this site by `mall/consoles.py`: supply may not import mall.
"""

import contextlib
from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline
from unfold.widgets import BASE_INPUT_CLASSES, UnfoldAdminFileFieldWidget

from core.admin import ServiceActionsMixin, ServiceSaveMixin, YuanColumnsMixin
from core.errors import DomainError, NotFound
from core.forms import PairsField
from core.sites import ThemedAdminSite
from supply import images, imaging, services
from supply.models import SKU, PricingRule, Product, ProductImage, ShippingRate, ShippingTemplate, Stock, Supplier

LOW_STOCK = 10


# --- shared console machinery --------------------------------------------------------------------------------------
class ConsoleLoginForm(AuthenticationForm):
    """Django's admin login form admits only `is_staff` users; a console admits its members (and operators)."""

    required_css_class = "required"
    console: "ConsoleSite"
    error_messages = {
        **AuthenticationForm.error_messages,
        "not_a_member": "该账号不是本工作台的成员 (this account is not a member of this console)",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        for name in ("username", "password"):  # the theme's inputs
            self.fields[name].widget.attrs["class"] = " ".join(BASE_INPUT_CLASSES)

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not self.console.is_member(user):
            raise ValidationError(self.error_messages["not_a_member"], code="not_a_member")


class ConsoleSite(ThemedAdminSite):
    """An admin site for the members of one kind of organisation. Subclasses say which organisations a user is a
    member of; every query of the site's model admins is limited to those (an operator is limited to nothing)."""

    def __init__(self, name: str):
        super().__init__(name=name)
        self.login_form = type(f"{type(self).__name__}LoginForm", (ConsoleLoginForm,), {"console": self})

    def organisations_of(self, user) -> QuerySet:
        raise NotImplementedError

    def is_member(self, user) -> bool:
        return bool(user.is_active and (user.is_superuser or self.organisations_of(user).exists()))

    def scope_ids(self, request) -> list[int] | None:
        """Primary keys of the organisations this request may act for; None means all of them (an operator).
        Computed once per request: every permission check of every model admin asks."""
        user = request.user
        if not user.is_active:
            return []
        if user.is_superuser:
            return None
        cache = request.__dict__.setdefault("_console_scope_ids", {})
        if self.name not in cache:
            cache[self.name] = list(self.organisations_of(user).values_list("pk", flat=True))
        return cache[self.name]

    def single_scope_id(self, request) -> int | None:
        """The one organisation a non-operator member works for, or None if there is a choice to make."""
        ids = self.scope_ids(request)
        return ids[0] if ids is not None and len(ids) == 1 else None

    def scope(self, request, queryset: QuerySet, path: str) -> QuerySet:
        """`queryset` limited to rows whose organisation (reached through `path`, "" = the row is one) is ours."""
        ids = self.scope_ids(request)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{path}__in" if path else "pk__in": ids})

    def has_permission(self, request) -> bool:
        return bool(request.user.is_active and (request.user.is_superuser or self.scope_ids(request)))


class ScopedAdminMixin:
    """For ModelAdmins and inlines on a ConsoleSite.

    owner_path:   lookup from this model to its organisation ("supplier", "sku__product__supplier").
    owner_field:  the direct FK to the organisation, if the model has one. Hidden from members of a single
                  organisation and set on save; for the others its choices are their own organisations.
    scoped_choices: FK/M2M field name -> lookup from the related model to the organisation ("" = it is one);
                  those fields offer only the member's own rows.
    console_can_add / console_can_change / console_can_delete: what members may do besides viewing.
    """

    owner_path: str | None = None
    owner_field: str | None = None
    scoped_choices: dict[str, str] = {}
    console_can_add = True
    console_can_change = True
    console_can_delete = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.owner_path is not None:
            queryset = self.admin_site.scope(request, queryset, self.owner_path)
        return queryset

    def _is_member(self, request) -> bool:
        return self.admin_site.has_permission(request)

    def has_module_permission(self, request):
        return self._is_member(request)

    def has_view_permission(self, request, obj=None):
        return self._is_member(request)

    def has_add_permission(self, request, obj=None):
        return self.console_can_add and self._is_member(request)

    def has_change_permission(self, request, obj=None):
        return self.console_can_change and self._is_member(request)

    def has_delete_permission(self, request, obj=None):
        return self.console_can_delete and self._is_member(request)

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if self.owner_field and self.admin_site.single_scope_id(request) is not None:
            fields = [name for name in fields if name != self.owner_field]
        return fields

    def _scoped_choices(self, db_field, request, kwargs: dict) -> dict:
        path = self.scoped_choices.get(db_field.name)
        if path is not None and "queryset" not in kwargs:
            kwargs["queryset"] = self.admin_site.scope(
                request, db_field.related_model._default_manager.all(), path)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **self._scoped_choices(db_field, request, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **self._scoped_choices(db_field, request, kwargs))

    def owner_of(self, request, form) -> models.Model | None:
        """The organisation a new row belongs to: the member's only one, else the one chosen in the form."""
        single = self.admin_site.single_scope_id(request)
        if single is not None:
            return self.model._meta.get_field(self.owner_field).related_model._default_manager.get(pk=single)
        return form.cleaned_data.get(self.owner_field)

    def claim_ownership(self, request, obj) -> None:
        """Whatever came in the POST, a member's row belongs to one of the member's organisations."""
        if not self.owner_field:
            return
        ids = self.admin_site.scope_ids(request)
        if ids is None:
            return
        attname = f"{self.owner_field}_id"
        if len(ids) == 1:
            setattr(obj, attname, ids[0])
        elif getattr(obj, attname) not in ids:
            raise PermissionDenied


class ConsoleModelAdmin(ScopedAdminMixin, ServiceSaveMixin, ServiceActionsMixin, YuanColumnsMixin, ModelAdmin):
    """A scoped model admin. Saves may go through a service (`save_through_service`, core.admin.ServiceSaveMixin)
    and actions call services row by row (`run_service_on_each`); a row saved directly is claimed for the member's
    organisation first."""

    def save_model(self, request, obj, form, change):
        if self.save_through_service is None:
            self.claim_ownership(request, obj)
        super().save_model(request, obj, form, change)


class ConsoleInline(ScopedAdminMixin, YuanColumnsMixin, TabularInline):
    pass


class ReadOnlyInline(ConsoleInline):
    console_can_add = False
    console_can_change = False
    extra = 0


# --- the supplier console ------------------------------------------------------------------------------------------
class SupplierConsole(ConsoleSite):
    settings_name = "UNFOLD_SUPPLIER"
    index_template = "admin/supplier_index.html"
    site_header = "供应商工作台 Supplier console"
    site_title = "供应商工作台 Supplier console"
    index_title = "商品、库存与发货 Catalogue, stock and shipping"

    def organisations_of(self, user) -> QuerySet:
        return Supplier.objects.filter(staff=user)


supplier_console = SupplierConsole(name="supplier_console")


def _stock_number(sku: SKU, name: str):
    try:
        return getattr(sku.stock, name)
    except Stock.DoesNotExist:
        return None


class StockNumbersMixin:
    """Available / reserved / sold of a SKU, read-only: stock changes only through the sync API or services."""

    @admin.display(description="可用 available")
    def stock_available(self, sku: SKU):
        return _stock_number(sku, "available")

    @admin.display(description="锁定 reserved")
    def stock_reserved(self, sku: SKU):
        return _stock_number(sku, "reserved")

    @admin.display(description="已售 sold")
    def stock_sold(self, sku: SKU):
        return _stock_number(sku, "sold")


SKU_FIELDS = ("code", "spec_values", "cost_price", "floor_price", "suggested_price", "weight_grams")


def _sku_create_from(product: Product, data: dict) -> SKU:
    return services.sku_create(product=product, **{name: data.get(name) for name in SKU_FIELDS})


class ProductForm(forms.ModelForm):
    attributes = PairsField(label="属性 attributes")

    class Meta:
        model = Product
        fields = ("supplier", "title", "category", "status", "shipping_template", "description", "attributes")


class SKUForm(forms.ModelForm):
    spec_values = PairsField(label="规格 spec values", help_text="如 颜色: 红 (e.g. colour: red)")

    class Meta:
        model = SKU
        fields = ("product", *SKU_FIELDS)


class SKUInlineFormSet(BaseInlineFormSet):
    """SKUs added on the product page are created through `services.sku_create`, stock row included."""

    def save_new(self, form, commit=True):
        return _sku_create_from(self.instance, form.cleaned_data)


class SKUInline(StockNumbersMixin, ConsoleInline):
    model = SKU
    form = SKUForm
    formset = SKUInlineFormSet
    fields = ("code", "spec_values", "cost_price", "floor_price", "suggested_price", "weight_grams",
              "stock_available", "stock_reserved", "stock_sold")
    readonly_fields = ("stock_available", "stock_reserved", "stock_sold")

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if obj is None else 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("stock")


# --- product pictures: an inline on the product page ----------------------------------------------------------
class ProductImagePreviewMixin:
    @admin.display(description="预览 preview")
    def preview(self, image: ProductImage):
        if not image or not image.pk:
            return "-"
        return format_html('<img src="{}" alt="" style="max-width:96px;max-height:96px">',
                           images.product_image_urls(image=image)["small"])

    @admin.display(description="尺寸 size")
    def dimensions(self, image: ProductImage) -> str:
        if not image or not image.width:
            return "-"
        return f"{image.width} × {image.height}"


class StoredPictureWidget(forms.Widget):
    """The upload cell of a stored picture: nothing to choose (a new file is a new row), the column kept."""

    def render(self, name, value, attrs=None, renderer=None):
        return "-"


class ProductImageForm(forms.ModelForm):
    """A new row uploads a file (checked here, so a refusal is an error on the row, in the user's language); an
    existing row edits its description and position."""

    upload = forms.FileField(
        label="上传图片 upload", required=False,
        widget=UnfoldAdminFileFieldWidget(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        help_text="JPEG、PNG 或 WebP (JPEG, PNG or WebP)")

    class Meta:
        model = ProductImage
        fields = ("alt_text", "position")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # a stored picture is not replaced in place: upload a new one, delete this one
            self.fields["upload"].disabled = True
            self.fields["upload"].widget = StoredPictureWidget()
        else:  # a new picture goes last; reorder it once it is saved
            self.fields["position"].disabled = True
            self.fields["position"].required = False
            self.initial["position"] = None

    def clean(self):
        cleaned = super().clean()
        self.upload_data = None
        if self.instance.pk:
            return cleaned
        upload = cleaned.get("upload")
        if upload is None:
            if self.has_changed():
                self.add_error("upload", ValidationError("请选择要上传的图片 (choose a picture to upload)",
                                                         code="image_required"))
            return cleaned
        limits = images.image_limits()
        try:
            imaging.size_check(size=upload.size, limits=limits)
            data = upload.read()
            imaging.image_process(data=data, limits=limits)
            images.alt_text_clean(cleaned.get("alt_text"))
        except DomainError as error:
            self.add_error("upload", ValidationError(error.message, code=error.code))
            return cleaned
        self.upload_data = data
        return cleaned


class ProductImageFormSet(BaseInlineFormSet):
    """New pictures are uploaded through `images.product_image_upload` once the page's transaction has committed
    (the admin saves a page in one transaction, and storage calls stay out of transactions); its refusals that
    only the upload can know (a limit reached meanwhile, the storage down) come back as messages. Deleted rows go
    through `images.product_image_delete`, which deletes their files after the commit."""

    request = None

    def is_multipart(self):
        # Django asks the first row; a stored picture's row has no file input, but the page must post files.
        return True

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [form for form in self.forms if form.instance.pk and not self._should_delete_form(form)]
        new = [form for form in self.forms if not form.instance.pk and getattr(form, "upload_data", None)
               and not self._should_delete_form(form)]
        counted = sum(1 for form in kept if not form.instance.is_generated)
        if counted + len(new) > settings.PRODUCT_IMAGE_MAX_PER_PRODUCT:
            raise ValidationError(f"每个商品最多 {settings.PRODUCT_IMAGE_MAX_PER_PRODUCT} 张图片 "
                                  f"(at most {settings.PRODUCT_IMAGE_MAX_PER_PRODUCT} pictures a product)",
                                  code="image_limit_reached")
        known = {form.instance.content_hash for form in kept}
        for form in new:
            digest = imaging.content_hash_of(form.upload_data)
            if digest in known:
                form.add_error("upload", ValidationError("这张图片已经上传过 (this picture is on the product already)",
                                                         code="image_duplicate"))
            known.add(digest)

    def save_new(self, form, commit=True):
        product = self.instance
        transaction.on_commit(partial(_console_upload, self.request, product.supplier, product.pk,
                                      form.upload_data, form.cleaned_data.get("alt_text", "")))
        return form.instance  # not saved here: the upload after the commit makes the row

    def delete_existing(self, obj, commit=True):
        if not commit:
            return
        with contextlib.suppress(NotFound):  # deleted meanwhile (another tab, the API): what was asked is done
            images.product_image_delete(supplier=obj.product.supplier, product_id=obj.product_id, image_id=obj.pk)


def _console_upload(request, supplier: Supplier, product_id: int, data: bytes, alt_text: str) -> None:
    try:
        uploaded = images.product_image_upload(supplier=supplier, product_id=product_id, data=data, alt_text=alt_text)
    except DomainError as error:
        messages.error(request, f"图片未上传 picture not uploaded: {error.message}")
        return
    if uploaded.created:
        messages.success(request, "图片已上传 picture uploaded")


class ProductImageInline(ProductImagePreviewMixin, ConsoleInline):
    model = ProductImage
    form = ProductImageForm
    formset = ProductImageFormSet
    console_can_delete = True
    fields = ("preview", "upload", "alt_text", "position", "is_generated", "dimensions")
    readonly_fields = ("preview", "is_generated", "dimensions")
    extra = 1

    def get_max_num(self, request, obj=None, **kwargs):
        return settings.PRODUCT_IMAGE_MAX_PER_PRODUCT + 1  # the generated placeholder, replaced by the first upload

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"request": request})


@admin.register(Product, site=supplier_console)
class ProductAdmin(ConsoleModelAdmin):
    form = ProductForm
    icon = "inventory_2"
    owner_path = "supplier"
    owner_field = "supplier"
    scoped_choices = {"supplier": "", "shipping_template": "supplier"}
    fields = ("supplier", "title", "category", "status", "shipping_template", "description", "attributes")
    list_display = ("title", "category", "status", "sku_count", "shipping_template", "updated_at")
    list_filter = ("status",)
    search_fields = ("title", "skus__code")
    list_select_related = ("category", "shipping_template__supplier")
    inlines = [SKUInline, ProductImageInline]

    def get_inline_instances(self, request, obj=None):
        # Pictures are added to a saved product: a new product's page has no product to upload them to yet.
        return [inline for inline in super().get_inline_instances(request, obj)
                if obj is not None or not isinstance(inline, ProductImageInline)]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(sku_total=Count("skus", distinct=True))

    @admin.display(description="规格数 SKUs", ordering="sku_total")
    def sku_count(self, product: Product) -> int:
        return product.sku_total

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.product_refresh_search(product=obj)


@admin.register(SKU, site=supplier_console)
class SKUAdmin(StockNumbersMixin, ConsoleModelAdmin):
    form = SKUForm
    icon = "style"
    owner_path = "product__supplier"
    scoped_choices = {"product": "supplier"}
    fields = ("product", "code", "spec_values", "cost_price", "floor_price", "suggested_price", "weight_grams",
              "stock_available", "stock_reserved", "stock_sold")
    readonly_fields = ("stock_available", "stock_reserved", "stock_sold")
    list_display = ("code", "product", "cost_price", "floor_price", "suggested_price", "stock_available",
                    "stock_reserved", "stock_sold")
    list_filter = ("product__status",)
    search_fields = ("code", "product__title")
    list_select_related = ("product", "stock")
    service_error_fields = {"sku_code_required": "code", "sku_code_taken": "code", "sku_prices_invalid": "floor_price",
                            "sku_weight_invalid": "weight_grams"}

    def save_through_service(self, request, form, change):
        if change:  # prices and specs of an existing SKU: a plain save, validated by the form and the model
            form.instance.save()
            return form.instance
        return _sku_create_from(form.cleaned_data["product"], form.cleaned_data)


class StockLevelFilter(admin.SimpleListFilter):
    title = "库存预警 low stock"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [("sold_out", "售罄 sold out"), ("low", f"紧张 fewer than {LOW_STOCK}")]

    def queryset(self, request, queryset):
        if self.value() == "sold_out":
            return queryset.filter(available=0)
        if self.value() == "low":
            return queryset.filter(available__lt=LOW_STOCK)
        return queryset


@admin.register(Stock, site=supplier_console)
class StockAdmin(ConsoleModelAdmin):
    icon = "warehouse"
    """A read-only view: stock is written by the inventory sync API (POST /api/v1/supplier/stock)."""

    owner_path = "sku__product__supplier"
    console_can_add = False
    console_can_change = False
    list_display = ("sku", "product_title", "available", "reserved", "sold", "synced_as_of")
    list_filter = (StockLevelFilter,)
    search_fields = ("sku__code", "sku__product__title")
    list_select_related = ("sku__product",)
    ordering = ("available", "sku")

    @admin.display(description="商品 product", ordering="sku__product__title")
    def product_title(self, stock: Stock) -> str:
        return stock.sku.product.title


@admin.register(PricingRule, site=supplier_console)
class PricingRuleAdmin(ConsoleModelAdmin):
    icon = "sell"
    owner_path = "supplier"
    owner_field = "supplier"
    scoped_choices = {"supplier": "", "sku": "product__supplier"}
    console_can_delete = True
    fields = ("supplier", "sku", "region", "tier", "mode", "value", "valid_from", "valid_to")
    list_display = ("__str__", "sku", "region", "tier", "mode", "value", "valid_from", "valid_to")
    list_filter = ("mode", "tier")
    search_fields = ("sku__code", "sku__product__title", "region__name")
    list_select_related = ("supplier", "sku", "region")


class ShippingRateInline(ConsoleInline):
    model = ShippingRate
    console_can_delete = True
    fields = ("region_codes", "tier", "first_weight_grams", "first_fee", "extra_weight_grams", "extra_fee",
              "free_threshold")

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if obj is None else 0


@admin.register(ShippingTemplate, site=supplier_console)
class ShippingTemplateAdmin(ConsoleModelAdmin):
    icon = "local_shipping"
    owner_path = "supplier"
    owner_field = "supplier"
    scoped_choices = {"supplier": ""}
    console_can_delete = True
    fields = ("supplier", "name")
    list_display = ("name", "supplier", "updated_at")
    search_fields = ("name",)
    inlines = [ShippingRateInline]

