"""The demo (`make demo`): the example pipelines on a real local broker, end to end.

1. start a single-node Kafka broker from the Apache Kafka jars (`sqlstream kafka up`);
2. produce a few hundred JSON transactions to topic `transactions`;
3. run queries/spend.sql, queries/routing.sql and queries/enrichment.sql with
   `sqlstream run --trigger available-now`;
4. print what arrived in `user-spending`, the routed topics, `transactions-enriched` (joined to
   examples/users.csv, which lacks u8) and the running totals of `spend-so-far`;
5. stop the broker.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlstream.local import broker as localkafka
from sqlstream.local import client as kafkaclient

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".sqlstream" / "kafka"
CHECKPOINTS = ROOT / ".sqlstream" / "checkpoints" / "demo"
OUTPUT_TOPICS = [
    "user-spending",
    "transactions-high",
    "transactions-standard",
    "transactions-enriched",
    "spend-so-far",
]
# A CHANGELOG sink's topic must be compacted (run refuses one that is not).
TOPIC_CONFIGS = {"spend-so-far": {"cleanup.policy": "compact"}}


def transactions(n: int = 400, seed: int = 7) -> list[tuple[str, str]]:
    """n transactions over 40 minutes of event time, a few arriving out of order."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        t = start + timedelta(seconds=i * 6 + rng.randint(-30, 30))
        user = f"u{rng.randint(1, 8)}"
        record = {
            "user_id": user,
            "action": rng.choices(["purchase", "refund", "view"], [6, 1, 3])[0],
            "amount": round(rng.uniform(1, 900), 2),
            "event_time": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        out.append((user, json.dumps(record)))
    return out


def main() -> int:
    port = (
        localkafka.DEFAULT_PORT
        if localkafka.status(STATE) or _free(localkafka.DEFAULT_PORT)
        else localkafka.free_port()
    )
    print(f"==> starting a local Kafka broker (state in {STATE.relative_to(ROOT)})", flush=True)
    broker = localkafka.up(port=port, state_dir=STATE)
    bootstrap = broker.bootstrap
    try:
        print(f"    bootstrap servers: {bootstrap}")
        for topic in ["transactions", *OUTPUT_TOPICS]:
            kafkaclient.delete_topic(bootstrap, topic)
        kafkaclient.create_topic(bootstrap, "transactions", partitions=3)
        for topic in OUTPUT_TOPICS:
            kafkaclient.create_topic(
                bootstrap, topic, partitions=1, config=TOPIC_CONFIGS.get(topic)
            )
        shutil.rmtree(CHECKPOINTS, ignore_errors=True)
        records = transactions()
        kafkaclient.produce(bootstrap, "transactions", records)
        print(f"==> produced {len(records)} transactions to topic 'transactions'", flush=True)

        cmd = [
            str(Path(sys.executable).parent / "sqlstream"),
            "run",
            "queries/spend.sql",
            "queries/routing.sql",
            "queries/enrichment.sql",
            "--trigger",
            "available-now",
            "--bootstrap-servers",
            bootstrap,
        ]
        print(f"==> {' '.join(['sqlstream', *cmd[1:]])}", flush=True)
        code = subprocess.call(cmd, cwd=ROOT)
        if code != 0:
            print(f"sqlstream run exited {code}", file=sys.stderr)
            return code

        for topic in OUTPUT_TOPICS:
            got = kafkaclient.consume_all(bootstrap, topic)
            print(
                f"\n==> topic '{topic}': {len(got)} records"
                + (" (first 10)" if len(got) > 10 else "")
            )
            for r in got[:10]:
                key = r.key.decode() if r.key is not None else None
                headers = "".join(
                    f" {k}={v.decode() if v is not None else None}" for k, v in r.headers
                )
                print(
                    f"  key={key}{'  headers:' + headers if headers else ''}\n"
                    f"    {r.value.decode() if r.value else r.value}"
                )
        return 0
    finally:
        print("\n==> stopping the broker", flush=True)
        localkafka.down(STATE)


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


if __name__ == "__main__":
    sys.exit(main())
