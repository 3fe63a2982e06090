"""A closed-loop HTTP load generator in processes of its own: CLIENTS connections (keep-alive), each sending its
next request when the last one answered, for DURATION seconds. Scenarios are plain functions of this module, so
the worker processes can run them; they return how many "operations" a loop iteration completed."""
import http.client
import json
import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Client:
    def __init__(self, base: str, token: str | None = None):
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.headers = {"Content-Type": "application/json", "Host": parts.hostname}
        if token:
            self.headers["Authorization"] = f"Token {token}"

    def request(self, method: str, path: str, body: dict | bytes | None = None, headers: dict | None = None):
        payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        try:
            self.connection.request(method, path, body=payload, headers={**self.headers, **(headers or {})})
            response = self.connection.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()  # reconnect on the next request
            raise
        return response.status, data


# --- scenarios --------------------------------------------------------------------------------------------------
def scenario_get(client: Client, state: dict) -> int:
    status, _ = client.request("GET", state["path"])
    if status >= 400:
        raise RuntimeError(f"GET {state['path']}: {status}")
    return 1


VISIT_BODIES = [json.dumps({"listing_id": listing_id, "sku_id": 1}).encode() for listing_id in range(1, 7001)]


def scenario_visit(client: Client, state: dict) -> int:
    # Bodies and headers are made once: the client shares the machine with the server, and the bare view's client
    # sends no body at all.
    if "headers" not in state:
        state["headers"] = [{"X-Visitor-Id": f"{state['visitor']}-{n}"} for n in range(50)]
    state["n"] = state.get("n", 0) + 1
    status, _ = client.request("POST", "/bench/visit", VISIT_BODIES[state["n"] % 7000],
                               headers=state["headers"][state["n"] % 50])
    if status != 204:
        raise RuntimeError(f"visit: {status}")
    return 1


def scenario_checkout(client: Client, state: dict) -> int:
    """Submit an order of 1-2 listings and pay it with the simulated gateway: one completed order."""
    state["n"] = state.get("n", 0) + 1
    listings = state["listings"]
    first = listings[(state["seed"] * 7919 + state["n"]) % len(listings)]
    lines = [{"listing_id": first, "quantity": 1}]
    if state["n"] % 2:
        lines.append({"listing_id": listings[(state["seed"] * 104729 + state["n"] * 31) % len(listings)],
                      "quantity": 2})
        if lines[1]["listing_id"] == first:
            lines.pop()
    status, data = client.request("POST", "/api/v1/orders", {
        "lines": lines, "address_id": state["address_id"],
        "idempotency_key": f"bench-{state['seed']}-{state['run']}-{state['n']}"})
    if status != 201:
        raise RuntimeError(f"submit: {status} {data[:200]!r}")
    order_id = json.loads(data)["id"]
    status, data = client.request("POST", f"/api/v1/orders/{order_id}/simulated-pay")
    if status != 200:
        raise RuntimeError(f"pay: {status} {data[:200]!r}")
    return 1


TRACK_STEPS = 4


def scenario_track(client: Client, state: dict) -> int:
    """A card page opened through a share link, as the H5 page reports it: view_card, two view_product, leave with
    the dwell time; four requests to POST /api/v1/cards/track, each opening by a new anonymous visitor (so each
    brings a first touch, a lead and a graph edge for the consumers to make)."""
    step = state["n"] = state.get("n", 0) + 1
    opening, part = divmod(step, TRACK_STEPS)
    shares, listings = state["shares"], state["listings"]
    visit = f"{state['visitor']}-{opening}"
    fields = f'"visit_id": "{visit}", "share_id": "{shares[opening % len(shares)]}"'
    if part == 0:
        body = f'{{{fields}, "action": "view_card"}}'
    elif part < TRACK_STEPS - 1:
        body = f'{{{fields}, "action": "view_product", "listing_id": {listings[(opening + part) % len(listings)]}}}'
    else:
        body = f'{{{fields}, "action": "leave", "dwell_seconds": {20 + opening % 100}}}'
    status, _ = client.request("POST", "/api/v1/cards/track", body.encode(), headers={"X-Visitor-Id": visit})
    if status != 204:
        raise RuntimeError(f"track: {status}")
    return 1


SCENARIOS = {"get": scenario_get, "visit": scenario_visit, "checkout": scenario_checkout, "track": scenario_track}


@dataclass
class LoadResult:
    operations: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0


def _process_main(base: str, scenario: str, states: list[dict], duration: float, queue) -> None:
    function = SCENARIOS[scenario]
    lock = threading.Lock()
    result = {"operations": 0, "errors": 0, "latencies": [], "first_error": ""}
    start_at = time.monotonic()
    deadline = start_at + duration

    def loop(state: dict) -> None:
        client = Client(base, state.get("token"))
        latencies, operations, errors, first_error = [], 0, 0, ""
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                operations += function(client, state)
                latencies.append(time.perf_counter() - started)
            except Exception as error:  # counted and reported; the load goes on
                errors += 1
                first_error = first_error or f"{type(error).__name__}: {error}"
        with lock:
            result["operations"] += operations
            result["errors"] += errors
            result["latencies"] += latencies
            result["first_error"] = result["first_error"] or first_error

    threads = [threading.Thread(target=loop, args=(state,)) for state in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result["seconds"] = time.monotonic() - start_at
    queue.put(result)


def load_run(*, base: str, scenario: str, states: list[dict], duration: float, processes: int = 2) -> LoadResult:
    """Run `len(states)` concurrent clients (spread over `processes` processes) for `duration` seconds."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    shares = [states[index::processes] for index in range(processes)]
    workers = [context.Process(target=_process_main, args=(base, scenario, share, duration, queue))
               for share in shares if share]
    for worker in workers:
        worker.start()
    parts = [queue.get(timeout=duration + 120) for _ in workers]
    for worker in workers:
        worker.join(30)
    total = LoadResult()
    for part in parts:
        total.operations += part["operations"]
        total.errors += part["errors"]
        total.latencies += part["latencies"]
        total.first_error = total.first_error or part["first_error"]
        total.seconds = max(total.seconds, part["seconds"])
    return total
