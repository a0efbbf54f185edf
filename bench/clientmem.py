"""The Python client's memory with a full queue: a client whose server cannot be reached (a
closed port), filled with `max_queue_size` events, measured from /proc/self/status.

    python bench/clientmem.py TOKEN SECRET [MAX_QUEUE_SIZE]

Prints one JSON line. Run by run.py in its own process, so the figure is the client's alone.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDK = ROOT / "sdks" / "python"


def rss_kb(key: str = "VmRSS") -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    token, secret = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    for path in (SDK / "src", SDK):
        sys.path.insert(0, str(path))
    import salesmachine  # noqa: F401  (the import itself is part of the baseline)

    baseline = rss_kb()
    client = salesmachine.Client(token, secret, host=f"http://127.0.0.1:{closed_port()}", max_queue_size=size)
    track = next(getattr(client, name) for name in ("track_event", "track", "event") if hasattr(client, name))
    started = time.perf_counter()
    for i in range(size + size // 10):  # past full: the overflow must be dropped, not grow memory
        track(f"c{i % 10_000}", "feature_used",
              {"feature": "reports", "duration_ms": i % 5000, "plan": "pro", "account_uid": f"a{i % 1000}"})
    enqueue_seconds = time.perf_counter() - started
    time.sleep(0.5)
    full = rss_kb()
    depth = getattr(client, "queued", None)
    print(json.dumps({"max_queue_size": size, "calls": size + size // 10, "queue_depth": depth,
                      "dropped": getattr(client, "dropped", None),
                      "rss_baseline_mb": baseline / 1024, "rss_full_mb": full / 1024,
                      "rss_hwm_mb": rss_kb("VmHWM") / 1024, "per_item_bytes": (full - baseline) * 1024 / size,
                      "enqueue_us_per_call": enqueue_seconds / (size + size // 10) * 1e6}))
    sys.stdout.flush()
    # Do not wait for the client's retries against a closed port.
    import os

    os._exit(0)


if __name__ == "__main__":
    main()
