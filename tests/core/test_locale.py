"""The committed Chinese catalogue (core/locale) is compiled from its .po file, and Django uses it."""
import ast
import gettext
from pathlib import Path

from django.utils import translation

CATALOGUE = Path(__file__).resolve().parents[2] / "core" / "locale" / "zh_Hans" / "LC_MESSAGES"


def _po_entries(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po file of single-line entries (the way ours is written)."""
    entries, msgid = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            msgid = ast.literal_eval(line[6:])
        elif line.startswith("msgstr ") and msgid:
            entries[msgid] = ast.literal_eval(line[7:])
    return entries


def test_the_compiled_catalogue_holds_exactly_the_po_entries():
    entries = _po_entries(CATALOGUE / "django.po")
    with (CATALOGUE / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)._catalog
    compiled_entries = {key: value for key, value in catalogue.items() if key}
    assert entries, "the .po file has no entries"
    assert compiled_entries == entries, "django.mo is stale: run msgfmt -o django.mo django.po in core/locale/zh_Hans"


def test_django_translates_the_admin_theme_words_into_chinese():
    with translation.override("zh-hans"):
        assert translation.gettext("Search apps and models...") == "搜索应用和模型…"
    with translation.override("en"):
        assert translation.gettext("Search apps and models...") == "Search apps and models..."
