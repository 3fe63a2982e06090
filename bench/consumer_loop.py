"""Run one batch consumer for a while and sample its lag (python -m bench.consumer_loop NAME SECONDS).

Prints one JSON line: events handled, seconds, the lag samples (seconds) taken about every 0.5 s, and the runs that
failed (each retried after half a second, as the beat would at its next tick)."""
import json
import os
import sys
import time


def main(name: str, seconds: float) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from core.events import consumer_lag, consumer_run

    handled, lags, failures, last_error = 0, [], 0, ""
    started = time.monotonic()
    next_sample = started
    while time.monotonic() - started < seconds:
        try:
            handled += consumer_run(name=name, max_batches=5)
        except Exception as error:  # the beat runs a failed consumer again at its next tick: so does this loop
            failures, last_error = failures + 1, f"{type(error).__name__}: {error}"[:200]
            time.sleep(0.5)
        if time.monotonic() >= next_sample:
            lags.append(consumer_lag(name=name)["lag_seconds"])
            next_sample += 0.5
        time.sleep(0.05)
    print(json.dumps({"handled": handled, "seconds": time.monotonic() - started, "lags": lags, "failures": failures,
                      "last_error": last_error}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
