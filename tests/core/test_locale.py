"""The committed Chinese catalogues (each app's locale/zh_Hans) are compiled from their .po files, and Django uses
them: messages in the caller's language."""
import ast
import gettext
from pathlib import Path

import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(path.parent for path in ROOT.glob("*/locale/zh_Hans/LC_MESSAGES/django.po"))


def _po_entries(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po file of single-line entries (the way ours is written)."""
    entries, msgid = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            msgid = ast.literal_eval(line[6:])
        elif line.startswith("msgstr ") and msgid:
            entries[msgid] = ast.literal_eval(line[7:])
    return entries


def test_every_app_that_speaks_has_a_catalogue():
    assert {path.parts[-4] for path in CATALOGUES} >= {"core", "accounts", "supply", "mall"}


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda path: path.parts[-4])
def test_the_compiled_catalogue_holds_exactly_the_po_entries(catalogue):
    entries = _po_entries(catalogue / "django.po")
    with (catalogue / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)._catalog
    compiled_entries = {key: value for key, value in catalogue.items() if key}
    assert entries, "the .po file has no entries"
    assert compiled_entries == entries, f"{catalogue}/django.mo is stale: run msgfmt -o django.mo django.po there"


def test_django_translates_the_admin_theme_words_into_chinese():
    with translation.override("zh-hans"):
        assert translation.gettext("Search apps and models...") == "搜索应用和模型…"
    with translation.override("en"):
        assert translation.gettext("Search apps and models...") == "Search apps and models..."
