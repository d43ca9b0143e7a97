"""The independent reference: each query's expected output, in plain Python, over the events.

It reads the input topics back from the broker (what the engines read, not what the generator
meant to write) and computes each query by its definition in the Nexmark specification, with
the rewrites of bench/nexmark/README.md where the results differ (q5 and q7 ties, q17's day).
Windows are written when they close: a window (or session) whose end is at or before the final
watermark, the largest event time of the query's inputs minus the watermark delay, the minimum
over the inputs (Spark's default policy). Pass ``watermark_ms=None`` for an engine that closes
every window at the end of its input.

Values are compared after ``normalise``: times as epoch milliseconds, numbers rounded to 9
significant digits (a decimal price, a double mean), the rows as a sorted list.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import typing as t
from collections import defaultdict
from decimal import Decimal

Row = dict[str, t.Any]
SECOND = 1000


def parse_ms(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 time ('2026-12-01T10:00:00.123Z', or with an offset)."""
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return round(stamp.timestamp() * 1000)


def iso(ms: int) -> str:
    stamp = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclasses.dataclass
class Events:
    """The events of a run by kind, each a dict of its JSON with ``_t`` (dateTime in ms) added."""

    person: list[Row]
    auction: list[Row]
    bid: list[Row]

    @classmethod
    def from_values(cls, values: dict[str, t.Iterable[bytes]]) -> Events:
        def rows(kind: str) -> list[Row]:
            out = []
            for value in values.get(kind, ()):
                row = json.loads(value)
                row["_t"] = parse_ms(row["dateTime"])
                out.append(row)
            return out

        return cls(rows("person"), rows("auction"), rows("bid"))

    def max_time(self, *kinds: str) -> int | None:
        times = [r["_t"] for k in kinds for r in getattr(self, k)]
        return max(times) if times else None


@dataclasses.dataclass(frozen=True)
class Params:
    """The vars a query ran with (bench/nexmark/queries/sqlstream/sources.sql and the queries)."""

    watermark_ms: int | None = 2 * SECOND
    tumble_ms: int = 10 * SECOND
    hop_size_ms: int = 10 * SECOND
    hop_slide_ms: int = 2 * SECOND
    day_ms: int = 86_400 * SECOND
    auction_ms: int = 334
    """The longest an auction stays open at the bench's rate: ``auction_length``."""


def auction_length(rate: float) -> int:
    """The generator's longest auction in ms at ``rate`` events/s: twice the event time of the
    1,666 events that create 100 more auctions (gen/model.go ``auctionLengthMs``), plus 1. A
    Flink interval join needs it as a constant bound (queries/flink/q4.sql)."""
    return int(2 * (100 * 50 // 3) * 1000 / rate) + 1


def closed_until(events: Events, params: Params, *kinds: str) -> float:
    """The final watermark of a query reading ``kinds``: windows ending at or before it are out."""
    if params.watermark_ms is None:
        return math.inf
    ends = [events.max_time(k) for k in kinds]
    known = [e for e in ends if e is not None]
    return min(known) - params.watermark_ms if known else -math.inf


def _tumble(ms: int, size: int) -> int:
    return ms - ms % size


# --- the stateless queries --------------------------------------------------------------------


def q0(ev: Events, p: Params) -> list[Row]:
    return [_pick(b, "auction", "bidder", "price", "dateTime", "extra") for b in ev.bid]


def euros(price: int) -> float:
    """0.908 * price: exact as a SQL decimal; here the float nearest it, as JSON reads it."""
    return float(Decimal(price) * Decimal("0.908"))


def q1(ev: Events, p: Params) -> list[Row]:
    return [{**q0_row, "price": euros(b["price"])} for b, q0_row in zip(ev.bid, q0(ev, p))]


def q2(ev: Events, p: Params) -> list[Row]:
    return [_pick(b, "auction", "price") for b in ev.bid if b["auction"] % 123 == 0]


def _time_type(hour: int) -> str:
    if 8 <= hour <= 18:
        return "dayTime"
    if hour <= 6 or hour >= 20:
        return "nightTime"
    return "otherTime"


def q14(ev: Events, p: Params) -> list[Row]:
    out = []
    for b in ev.bid:
        price = euros(b["price"])
        if 1_000_000 < Decimal(b["price"]) * Decimal("0.908") < 50_000_000:
            hour = dt.datetime.fromtimestamp(b["_t"] / 1000, tz=dt.timezone.utc).hour
            out.append(
                {
                    **_pick(b, "auction", "bidder", "dateTime", "extra"),
                    "price": price,
                    "bidTimeType": _time_type(hour),
                    "c_counts": b["extra"].count("c"),
                }
            )
    return out


CHANNEL_IDS = {"apple": "0", "google": "1", "facebook": "2", "baidu": "3"}
CHANNEL_ID_RE = re.compile(r"(?:&|^)channel_id=([^&]*)")


def q21(ev: Events, p: Params) -> list[Row]:
    out = []
    for b in ev.bid:
        found = CHANNEL_ID_RE.search(b["url"])
        from_url = found.group(1) if found else None
        known = CHANNEL_IDS.get(b["channel"].lower())
        if known is not None or from_url:
            channel_id = known if known is not None else from_url
            out.append(
                {**_pick(b, "auction", "bidder", "price", "channel"), "channel_id": channel_id}
            )
    return out


def q22(ev: Events, p: Params) -> list[Row]:
    out = []
    for b in ev.bid:
        parts = b["url"].split("/")
        dirs = {f"dir{i}": parts[i + 2] if i + 2 < len(parts) else None for i in (1, 2, 3)}
        out.append({**_pick(b, "auction", "bidder", "price", "channel"), **dirs})
    return out


# --- joins --------------------------------------------------------------------------------------


def q3(ev: Events, p: Params) -> list[Row]:
    people = {x["id"]: x for x in ev.person if x["state"] in ("OR", "ID", "CA")}
    return [
        {**_pick(people[a["seller"]], "name", "city", "state"), "id": a["id"]}
        for a in ev.auction
        if a["category"] == 10 and a["seller"] in people
    ]


def q20(ev: Events, p: Params) -> list[Row]:
    auctions = defaultdict(list)
    for a in ev.auction:
        if a["category"] == 10:
            auctions[a["id"]].append(a)
    out = []
    for b in ev.bid:
        for a in auctions.get(b["auction"], ()):
            row = _pick(b, "auction", "bidder", "price", "channel", "url", "dateTime", "extra")
            row.update(_pick(a, "itemName", "description", "initialBid", "reserve", "expires"))
            row.update(_pick(a, "seller", "category"))
            row.update(auction_dateTime=a["dateTime"], auction_extra=a["extra"])
            out.append(row)
    return out


def q8(ev: Events, p: Params) -> list[Row]:
    until = closed_until(ev, p, "person", "auction")
    sellers = {(a["seller"], _tumble(a["_t"], p.tumble_ms)) for a in ev.auction}
    out = []
    for x in ev.person:
        start = _tumble(x["_t"], p.tumble_ms)
        if (x["id"], start) in sellers and start + p.tumble_ms <= until:
            out.append({"id": x["id"], "name": x["name"], "starttime": iso(start)})
    return out


def q4(ev: Events, p: Params) -> list[Row]:
    """Per category and 10 s window of auction creation, the mean of the auctions' winning bids
    (the highest bid between an auction's creation and its expiry; auctions with no bid left
    out, as an inner join leaves them)."""
    until = closed_until(ev, p, "auction", "bid")
    bids = defaultdict(list)
    for b in ev.bid:
        bids[b["auction"]].append(b)
    finals: dict[tuple[int, int], list[int]] = defaultdict(list)
    for a in ev.auction:
        start, expires = _tumble(a["_t"], p.tumble_ms), parse_ms(a["expires"])
        prices = [b["price"] for b in bids.get(a["id"], ()) if a["_t"] <= b["_t"] <= expires]
        if prices and start + p.tumble_ms <= until:
            finals[(start, a["category"])].append(max(prices))
    return [
        {"starttime": iso(start), "category": c, "avg_final": sum(f) / len(f)}
        for (start, c), f in finals.items()
    ]


# --- windows ------------------------------------------------------------------------------------


def _hops(ms: int, size: int, slide: int) -> list[int]:
    """The starts of the sliding windows that hold ``ms``."""
    last = _tumble(ms, slide)
    return [s for s in range(last - size + slide, last + 1, slide) if s <= ms < s + size]


def q5(ev: Events, p: Params) -> list[Row]:
    until = closed_until(ev, p, "bid")
    counts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for b in ev.bid:
        for start in _hops(b["_t"], p.hop_size_ms, p.hop_slide_ms):
            counts[start][b["auction"]] += 1
    out = []
    for start, per_auction in counts.items():
        if start + p.hop_size_ms <= until:
            top = max(per_auction.values())
            out += [{"auction": a, "num": n} for a, n in per_auction.items() if n == top]
    return out


def q7(ev: Events, p: Params) -> list[Row]:
    until = closed_until(ev, p, "bid")
    best: dict[int, tuple[t.Any, ...]] = {}
    for b in ev.bid:
        start = _tumble(b["_t"], p.tumble_ms)
        key = (b["price"], b["auction"], b["bidder"], b["_t"], b["extra"])
        if start not in best or key > best[start]:
            best[start] = key
    return [
        {"auction": a, "price": price, "bidder": bidder, "dateTime": iso(ms), "extra": extra}
        for start, (price, a, bidder, ms, extra) in best.items()
        if start + p.tumble_ms <= until
    ]


def q11(ev: Events, p: Params) -> list[Row]:
    until = closed_until(ev, p, "bid")
    by_bidder: dict[int, list[int]] = defaultdict(list)
    for b in ev.bid:
        by_bidder[b["bidder"]].append(b["_t"])
    out = []
    for bidder, times in by_bidder.items():
        times.sort()
        session = [times[0]]
        for ms in [*times[1:], None]:  # None: the end of the bidder's bids
            if ms is not None and ms < session[-1] + p.tumble_ms:
                session.append(ms)
                continue
            end = session[-1] + p.tumble_ms
            if end <= until:
                out.append(
                    {
                        "bidder": bidder,
                        "bid_count": len(session),
                        "starttime": iso(session[0]),
                        "endtime": iso(end),
                    }
                )
            if ms is not None:
                session = [ms]
    return out


def q17(ev: Events, p: Params) -> list[Row]:
    until = closed_until(ev, p, "bid")
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for b in ev.bid:
        groups[(b["auction"], _tumble(b["_t"], p.day_ms))].append(b["price"])
    out = []
    for (auction, start), prices in groups.items():
        if start + p.day_ms > until:
            continue
        out.append(
            {
                "auction": auction,
                "day": iso(start)[:10],
                "total_bids": len(prices),
                "rank1_bids": sum(x < 10_000 for x in prices),
                "rank2_bids": sum(10_000 <= x < 1_000_000 for x in prices),
                "rank3_bids": sum(x >= 1_000_000 for x in prices),
                "min_price": min(prices),
                "max_price": max(prices),
                "avg_price": sum(prices) / len(prices),
                "sum_price": sum(prices),
            }
        )
    return out


QUERIES: dict[str, t.Callable[[Events, Params], list[Row]]] = {
    "q0": q0,
    "q1": q1,
    "q2": q2,
    "q3": q3,
    "q4": q4,
    "q5": q5,
    "q7": q7,
    "q8": q8,
    "q11": q11,
    "q14": q14,
    "q17": q17,
    "q20": q20,
    "q21": q21,
    "q22": q22,
}
"""Every query the reference knows: the queries the bench can check."""

INPUTS: dict[str, tuple[str, ...]] = {
    **{q: ("bid",) for q in ("q0", "q1", "q2", "q5", "q7", "q11", "q14", "q17", "q21", "q22")},
    "q3": ("person", "auction"),
    "q4": ("auction", "bid"),
    "q8": ("person", "auction"),
    "q20": ("auction", "bid"),
}
"""The event kinds (topics) each query reads."""


# --- comparing ----------------------------------------------------------------------------------

TIME_FIELDS = {"dateTime", "expires", "starttime", "endtime", "auction_dateTime"}


def _pick(row: Row, *names: str) -> Row:
    return {n: row[n] for n in names}


def _number(x: float) -> float:
    return float(f"{x:.9g}")


def _value(name: str, v: t.Any) -> t.Any:
    if name in TIME_FIELDS and isinstance(v, str):
        return parse_ms(v)
    if isinstance(v, float) and not v.is_integer():
        return _number(v)
    if isinstance(v, float):
        return int(v)
    return v


def normalise(rows: t.Iterable[Row]) -> list[tuple[tuple[str, t.Any], ...]]:
    """Rows in a form two engines' outputs can be compared in: sorted, times and numbers unified."""
    return sorted(
        (tuple(sorted((k, _value(k, v)) for k, v in r.items() if not k.startswith("_"))))
        for r in rows
    )


def diff(expected: list[Row], actual: list[Row], limit: int = 3) -> str | None:
    """None when the two multisets of rows are equal, else a short account of the difference."""
    want, got = normalise(expected), normalise(actual)
    if want == got:
        return None
    missing, extra = _minus(want, got), _minus(got, want)
    lines = [f"expected {len(want)} rows, got {len(got)}"]
    lines += [f"  missing: {dict(r)}" for r in missing[:limit]]
    lines += [f"  unexpected: {dict(r)}" for r in extra[:limit]]
    return "\n".join(lines)


def _minus(a: list[t.Any], b: list[t.Any]) -> list[t.Any]:
    left: dict[t.Any, int] = defaultdict(int)
    for r in b:
        left[r] += 1
    out = []
    for r in a:
        if left[r]:
            left[r] -= 1
        else:
            out.append(r)
    return out
