"""Fills the Nexmark topics with the Go generator (bench/nexmark/gen, ``make nexmark-gen``).

One topic per event type (``nexmark-person``, ``nexmark-auction``, ``nexmark-bid``, a run may
add a suffix), JSON values, each record's CreateTime its event's ``dateTime``: a query reads
only the topics of the events it needs, and pays no ``event_type`` filter per record.

Python cannot make and produce 500,000 events/s on two cores; Go (franz-go) does, so the fill
never limits a run. ``python -m nexmark.generator --events N`` (from bench/) fills a broker by
hand.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BINARY = HERE / "bin" / "nexmark-gen"
ROOT = HERE.parent.parent
KINDS = ("person", "auction", "bid")


@dataclasses.dataclass(frozen=True)
class Topics:
    """The three input topics of a run."""

    person: str = "nexmark-person"
    auction: str = "nexmark-auction"
    bid: str = "nexmark-bid"

    @classmethod
    def with_suffix(cls, suffix: str) -> Topics:
        return cls(*(f"nexmark-{k}{suffix}" for k in KINDS))

    def of(self, kind: str) -> str:
        return str(getattr(self, kind))

    def all(self) -> list[str]:
        return [self.of(k) for k in KINDS]


@dataclasses.dataclass(frozen=True)
class Fill:
    """What a fill wrote: events per kind, bytes, and how fast."""

    events: int
    person: int
    auction: int
    bid: int
    bytes: int
    seconds: float
    events_per_second: float
    base_ms: int

    def of(self, kind: str) -> int:
        return int(getattr(self, kind))


def binary() -> Path:
    """The generator, built with the Makefile's target when it is missing or older than its code."""
    sources = list((HERE / "gen").glob("*.go")) + [HERE / "gen" / "go.mod"]
    if not BINARY.exists() or BINARY.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        done = subprocess.run(
            ["make", "-s", "nexmark-gen"], cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"building the Nexmark generator failed:\n{done.stderr.strip()}")
    return BINARY


def fill(
    bootstrap: str,
    topics: Topics,
    events: int,
    *,
    rate: float = 10_000,
    partitions: int = 4,
    first: int = 0,
    base_time: str | None = None,
    paced: bool = False,
) -> Fill:
    """Write events ``first`` .. ``first + events - 1`` to ``topics`` (created when missing)."""
    cmd = [
        str(binary()),
        f"-bootstrap={bootstrap}",
        f"-events={events}",
        f"-first={first}",
        f"-rate={rate}",
        f"-partitions={partitions}",
        f"-person-topic={topics.person}",
        f"-auction-topic={topics.auction}",
        f"-bid-topic={topics.bid}",
    ]
    if base_time is not None:
        cmd.append(f"-base-time={base_time}")
    if paced:
        cmd.append("-paced")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr.strip() or f"{cmd[0]} exited with {done.returncode}")
    return Fill(**json.loads(done.stdout))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", default="localhost:9092")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rate", type=float, default=10_000, help="events/s of event time")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--suffix", default="", help="added to each topic name")
    ap.add_argument("--paced", action="store_true", help="produce at the events' times")
    args = ap.parse_args(argv)
    done = fill(
        args.bootstrap,
        Topics.with_suffix(args.suffix),
        args.events,
        rate=args.rate,
        partitions=args.partitions,
        paced=args.paced,
    )
    print(json.dumps(dataclasses.asdict(done)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
