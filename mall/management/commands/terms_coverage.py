from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mall.demo import CSV_RELATIVE_PATH, catalogue_titles
from mall.management.commands.load_demo import default_data_dir
from supply.terms import TERMS_PATH
from supply.terms.compose import coverage_of


class Command(BaseCommand):
    help = ("How much of the demo catalogue's titles the term dictionary (supply/terms/terms.tsv) reads: words "
            "weighted by occurrence and distinct words, and the words it does not know, most frequent first, so "
            "the dictionary can be extended. Reads the UCI Online Retail file as load_demo does.")

    def add_arguments(self, parser):
        parser.add_argument("--data", type=Path, default=None,
                            help="shared data folder (default: $SHARED_DATA_DIR, else <project>/../shared/data)")
        parser.add_argument("--top", type=int, default=40, help="how many unknown words to list (default 40)")

    def handle(self, *args, **options):
        path = (options["data"] or default_data_dir()) / CSV_RELATIVE_PATH
        if not path.exists():
            raise CommandError(f"{path} not found: set --data or SHARED_DATA_DIR to the shared data folder")
        titles = list(catalogue_titles(path=path).values())
        coverage = coverage_of(titles)
        self.stdout.write(f"词典 dictionary: {TERMS_PATH}")
        self.stdout.write(f"标题 titles: {len(titles)}")
        self.stdout.write(f"按词次 weighted: {coverage.covered} of {coverage.words} word occurrences "
                          f"({coverage.share:.1%})")
        self.stdout.write(f"按词 distinct: {coverage.distinct_covered} of {coverage.distinct} distinct words "
                          f"({coverage.distinct_share:.1%})")
        self.stdout.write(f"未收录 not in the dictionary ({len(coverage.uncovered)} words, "
                          f"{sum(coverage.uncovered.values())} occurrences), most frequent first:")
        for word, count in coverage.uncovered.most_common(max(options["top"], 0)):
            self.stdout.write(f"  {count:4d}  {word}")
