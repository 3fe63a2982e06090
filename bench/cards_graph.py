"""The depth-3 propagation tree of a card with about 100,000 shares: through our API's query layer on the share graph
(cards/analytics.py: one Cypher query, FalkorDB here) against a PostgreSQL recursive CTE over the same rows
(cards/analytics_sql.py), both answering the same question (every person within three levels of the rep, level by
level, the first 500 by level and key) with the same answer, checked before timing.

The card. No public data set of share chains exists, so the card's shares come from a seeded branching process
(`share_forest`), written to PostgreSQL with COPY and projected into the graph by the projection's own syncs (the
rebuild path), and kept for later runs (a run whose card already has its shares reuses it):
- the rep posts ROOT_SHARES shares of the card (moments, groups, posters, QR codes);
- each share brings a Poisson number of new visitors with a mean by channel (a friend 1.4, a group chat 5, moments
  3.5, a poster 6, a QR code 2): each becomes a first-touch referral of that share;
- each visitor forwards the card with a probability that starts at FORWARD and decays by DECAY per level (interest
  fades down a chain), making 1 + a geometric number of shares (mean 1/(1-EXTRA_SHARE)) under the share they came
  through, each on a channel drawn by the weights below;
- shares are expanded breadth first until the card has the requested number of shares.
With the defaults a 100,000-share card has about 140,000 referrals, chains about 14 levels deep and most people far
below level 3: the shape of a large cascade, broad at the bottom.

Fair baseline: the CTE runs on the indexes production has for these rows (`share_sharer_idx` on (sharer_key,
card), the foreign-key index on `cards_referral.share_id`), after VACUUM ANALYZE, on a warm cache, through the same
Django connection the API uses; the graph query runs through the process's shared graph connection (graph_shared),
as the API's does. Runs alternate between the two so that the machine's noise falls on both alike.
"""
import io
import math
import random
import statistics
import time
from collections import deque
from datetime import timedelta

from bench.load import percentile

SEED = 2026
ROOT_SHARES = 60
FORWARD = 0.42
DECAY = 0.97
EXTRA_SHARE = 0.4
# channel, weight among forwards, mean visitors a share of that channel brings
CHANNELS = (("friend", 0.45, 1.4), ("group", 0.30, 5.0), ("moments", 0.18, 3.5), ("poster", 0.04, 6.0),
            ("qr", 0.03, 2.0))
TREE_LIMIT = 500


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, count, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def share_forest(*, shares: int, seed: int = SEED, roots: int = ROOT_SHARES) -> tuple[list[tuple], list[tuple]]:
    """The branching process above: (share number, sharer, parent number or None, depth, channel, minute) rows and
    (visitor, share number, minute) referral rows. Sharer and visitor are "rep" or a person number."""
    rng = random.Random(seed)
    names = [name for name, _weight, _mean in CHANNELS]
    weights = [weight for _name, weight, _mean in CHANNELS]
    means = {name: mean for name, _weight, mean in CHANNELS}
    share_rows: list[tuple] = []
    referral_rows: list[tuple] = []
    queue: deque[int] = deque()
    people = 0

    def share(sharer, parent, depth: int, channel: str, minute: int) -> None:
        share_rows.append((len(share_rows), sharer, parent, depth, channel, minute))
        queue.append(len(share_rows) - 1)

    for number in range(roots):
        share("rep", None, 1, ("moments", "group", "poster", "qr")[number % 4], number * 60)
    while queue and len(share_rows) < shares:
        number, _sharer, _parent, depth, channel, minute = share_rows[queue.popleft()]
        for _ in range(_poisson(rng, means[channel])):
            people += 1
            arrived = minute + int(rng.expovariate(1 / 90)) + 1
            referral_rows.append((people, number, arrived))
            if rng.random() < FORWARD * DECAY ** (depth - 1):
                forwards = 1
                while rng.random() < EXTRA_SHARE:
                    forwards += 1
                for _ in range(forwards):
                    if len(share_rows) >= shares:
                        break
                    share(people, number, depth + 1, rng.choices(names, weights)[0],
                          arrived + int(rng.expovariate(1 / 30)))
    return share_rows, referral_rows


def _bench_card(shares: int, roots: int):
    """The bench card of this shape (its rep, store and card made once), with about `shares` shares in
    PostgreSQL."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from cards.models import BusinessCard, Share
    from mall.models import Store

    users = get_user_model()
    phone = f"1990{roots:07d}"  # one rep (and card) per shape of forest
    rep = users.objects.filter(phone=phone).first() or users.objects.create_user(
        phone, role="merchant_staff", nickname=f"分享基准导购 {roots}")
    store = Store.objects.filter(owner=rep).first() or Store.objects.create(owner=rep, name="分享基准店 bench store")
    card, _created = BusinessCard.objects.get_or_create(owner=rep, store=store, defaults={
        "name": "分享基准名片", "status": BusinessCard.Status.PUBLISHED, "published_at": timezone.now()})
    if abs(Share.objects.filter(card=card).count() - shares) <= shares // 100:
        return card, False
    share_rows, referral_rows = share_forest(shares=shares, roots=roots)
    start = timezone.now() - timedelta(days=60)
    root = f"u:{rep.pk}"

    def key(person) -> str:
        return root if person == "rep" else f"v:bench-{card.pk}-{person:07d}"

    def share_id(number: int) -> str:
        return f"b{card.pk}x{number:07d}"

    def at(minute: int) -> str:
        return (start + timedelta(minutes=minute)).isoformat()

    shares_copy = io.StringIO()
    for number, sharer, parent, depth, channel, minute in share_rows:
        parent_id = share_id(parent) if parent is not None else "\\N"
        sharer_id = rep.pk if sharer == "rep" else "\\N"
        shares_copy.write(f"{share_id(number)}\t{card.pk}\t{sharer_id}\t{key(sharer)}\t{parent_id}\t{channel}\t"
                          f"{depth}\t{at(minute)}\n")
    referrals_copy = io.StringIO()
    for person, number, minute in referral_rows:
        referrals_copy.write(f"{card.pk}\t{key(person)}\t{share_id(number)}\t{at(minute)}\t{at(minute)}\n")
    with transaction.atomic():
        shares_copy.seek(0)
        referrals_copy.seek(0)
        with connection.cursor() as cursor:  # a whole chain at once: its parents go in the same statement
            cursor.execute("DELETE FROM cards_referral WHERE card_id = %s", [card.pk])
            cursor.execute("DELETE FROM cards_share WHERE card_id = %s", [card.pk])
            cursor.copy_expert("COPY cards_share (id, card_id, sharer_id, sharer_key, parent_id, channel, depth, "
                               "created_at) FROM STDIN", shares_copy)
            cursor.copy_expert("COPY cards_referral (card_id, visitor_key, share_id, first_at, bound_at) FROM STDIN",
                               referrals_copy)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE cards_share")
        cursor.execute("VACUUM ANALYZE cards_referral")
    return card, True


def _graph_ensure(card, *, rewrite: bool) -> float | None:
    """Project the card's rows into the graph with the projection's syncs unless the graph has them already.
    Returns the seconds it took, or None when the graph was up to date."""
    from cards import projection
    from cards.graph import SCHEMA, graph_backend
    from cards.models import Referral, Share

    with graph_backend() as graph:
        graph.ensure_schema(SCHEMA)
        in_graph = graph.run("MATCH ()-[r:REFERRED {card: $card}]->() RETURN count(r) AS n", {"card": card.pk})[0]["n"]
        if not rewrite and in_graph == Referral.objects.filter(card=card).count():
            return None
        started = time.perf_counter()
        graph.run("MATCH ()-[r:REFERRED {card: $card}]->() DELETE r", {"card": card.pk})
        graph.run("MATCH ()-[r:SHARED {card: $card}]->() DELETE r", {"card": card.pk})
        projection.cards_sync(graph, [card.pk])
        shares = Share.objects.filter(card=card).order_by("pk").values(*projection.SHARE_FIELDS)
        for chunk in projection._chunks_of(shares.iterator(chunk_size=5000), 5000):
            projection.shares_sync(graph, chunk)
        referrals = Referral.objects.filter(card=card).order_by("pk").values(*projection.REFERRAL_FIELDS)
        for chunk in projection._chunks_of(referrals.iterator(chunk_size=5000), 5000):
            projection.referrals_sync(graph, {(row["card_id"], row["visitor_key"]) for row in chunk}, chunk)
        return time.perf_counter() - started


def tree_bench(*, shares: int = 100_000, runs: int = 200, roots: int = ROOT_SHARES) -> dict:
    """p50/p95 (ms) of the depth-3 tree through cards/analytics.py and of the recursive CTE, and the speedup of the
    graph at p95 (CTE p95 / tree p95). `roots`: how many shares the rep posts (the breadth of the top levels)."""
    from django.core.management import call_command

    from cards import analytics, analytics_sql
    from cards.models import Referral

    call_command("migrate", verbosity=0)
    card, written = _bench_card(shares, roots)
    projected = _graph_ensure(card, rewrite=written)
    graph_answer = analytics.tree(card=card, depth=3, limit=TREE_LIMIT)
    sql_answer = analytics_sql.tree(card=card, depth=3, limit=TREE_LIMIT)
    assert graph_answer == sql_answer, "the graph and the CTE disagree"
    levels = analytics.levels(card=card, depth=3)
    for _ in range(20):  # warm both caches
        analytics.tree(card=card, depth=3, limit=TREE_LIMIT)
        analytics_sql.tree(card=card, depth=3, limit=TREE_LIMIT)
    tree_ms, cte_ms = [], []
    for _ in range(runs):
        started = time.perf_counter()
        analytics.tree(card=card, depth=3, limit=TREE_LIMIT)
        tree_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        analytics_sql.tree(card=card, depth=3, limit=TREE_LIMIT)
        cte_ms.append((time.perf_counter() - started) * 1000)
    figures = {"tree_p50_ms": round(statistics.median(tree_ms), 2), "tree_p95_ms": round(percentile(tree_ms, 0.95), 2),
               "cte_p50_ms": round(statistics.median(cte_ms), 2), "cte_p95_ms": round(percentile(cte_ms, 0.95), 2)}
    figures["speedup"] = round(figures["cte_p95_ms"] / figures["tree_p95_ms"], 2)
    print(f"bench card {card.pk}: {shares} shares, {Referral.objects.filter(card=card).count()} referrals, "
          f"{levels['reached']} people within 3 levels (per level {[row['people'] for row in levels['levels']]}), "
          f"tree answer {len(graph_answer['nodes'])} nodes (truncated: {graph_answer['truncated']}); "
          + (f"projected into the graph in {projected:.1f} s" if projected is not None else "graph reused"),
          flush=True)
    return figures


def run() -> None:
    figures = tree_bench()
    print(f"depth-3 tree through cards/analytics.py: p50 {figures['tree_p50_ms']} ms, p95 {figures['tree_p95_ms']} "
          f"ms; recursive CTE: p50 {figures['cte_p50_ms']} ms, p95 {figures['cte_p95_ms']} ms; "
          f"speedup {figures['speedup']}x")
    print("BENCH cards_graph " + " ".join(f"{name}={value}" for name, value in figures.items()))
