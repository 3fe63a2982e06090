"""Helpers shared by the concurrency tests."""
import threading

from django.db import connection


def race(workers: int, action) -> tuple[list, list]:
    """Run `action(index)` in `workers` threads released at the same instant; return (results, errors).

    Each thread closes its own database connection, so transactional tests leave none open.
    """
    barrier = threading.Barrier(workers)
    results, errors = [], []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            barrier.wait()
            outcome = action(index)
            with lock:
                results.append(outcome)
        except Exception as error:  # collected and asserted by the caller
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, errors
