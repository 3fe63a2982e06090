"""Form fields for the JSON columns people edit in the consoles, so nobody types JSON by hand:

- `TextListField`: a JSON list of strings (product image URLs) as one input per item, rows added and removed
  in the page (unfold's ArrayWidget);
- `PairsField`: a JSON object of names and values (product attributes, SKU specs) as one "名称: 值" input per
  pair; a full-width colon (：) works as well as ":".
"""
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _
from unfold.contrib.forms.widgets import ArrayWidget


class TextListField(forms.Field):
    widget = ArrayWidget

    def __init__(self, *, item_validators=(), max_items: int = 50, **kwargs):
        self.item_validators = list(item_validators)
        self.max_items = max_items
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return [str(item) for item in value or []]

    def to_python(self, value) -> list[str]:
        if value in (None, ""):
            return []
        items = value if isinstance(value, list | tuple) else [value]
        return [text for text in (str(item).strip() for item in items) if text]

    def validate(self, value):
        super().validate(value)
        if len(value) > self.max_items:
            raise ValidationError(_("at most %(count)s items") % {"count": self.max_items}, code="too_many")
        for item in value:
            for validator in self.item_validators:
                try:
                    validator(item)
                except ValidationError as error:
                    raise ValidationError(f"{item}: {error.messages[0]}", code="invalid_item") from error

    def has_changed(self, initial, data):
        return self.to_python(initial) != self.to_python(data)


class URLListField(TextListField):
    def __init__(self, **kwargs):
        super().__init__(item_validators=[URLValidator(schemes=["http", "https"],
                                                       message=_("not a valid http(s) URL"))], **kwargs)


class PairsField(forms.Field):
    widget = ArrayWidget
    SEPARATORS = (":", "：")

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", _("one per row, as name: value"))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, dict):
            return [f"{name}: {text}" for name, text in value.items()]
        return value or []

    def to_python(self, value) -> dict[str, str]:
        if value in (None, ""):
            return {}
        if isinstance(value, dict):
            return {str(name): str(text) for name, text in value.items()}
        pairs: dict[str, str] = {}
        for item in value if isinstance(value, list | tuple) else [value]:
            row = str(item).strip()
            if not row:
                continue
            position = min((row.find(separator) for separator in self.SEPARATORS if separator in row), default=-1)
            if position <= 0:
                raise ValidationError(_("“%(row)s”: write it as name: value") % {"row": row}, code="not_a_pair")
            name, text = row[:position].strip(), row[position + 1:].strip()
            if name in pairs:
                raise ValidationError(_("“%(name)s” is named twice") % {"name": name}, code="duplicate_name")
            pairs[name] = text
        return pairs

    def has_changed(self, initial, data):
        try:
            return self.to_python(initial) != self.to_python(data)
        except ValidationError:
            return True
