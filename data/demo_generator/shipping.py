"""Parcels: when they leave, how long they travel, and the tracking events the carriers send."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from demo_generator.clock import DAY, HOUR, Clock
from demo_generator.geography import CHANNELS

CARRIERS = (("Parcelway", "PW"), ("SwiftShip", "SS"), ("Northline Freight", "NL"))
EXCEPTION_CODES = ("WEATHER_DELAY", "ADDRESS_CORRECTION", "MISSED_DELIVERY", "DAMAGED_LABEL")
SUNDAY = 6
STATUSES = (
    "label_created",
    "picked_up",
    "in_transit",
    "exception",
    "out_for_delivery",
    "delivered",
)
LABEL_CREATED, PICKED_UP, IN_TRANSIT, EXCEPTION, OUT_FOR_DELIVERY, DELIVERED = range(6)
# Carrier webhooks are saved in four files a day, one per six hours of arrival (UTC).
FILES_PER_DAY = 4


@dataclass(frozen=True)
class Shipments:
    """Parcels planned on one day, one entry per (order, ship-from location)."""

    channel: np.ndarray  # index into CHANNELS
    order_id: pl.Series  # the channel's order id
    location: np.ndarray  # index into LOCATIONS
    express: np.ndarray  # bool
    label_t: np.ndarray  # seconds
    delivered_t: np.ndarray
    dest_zone: np.ndarray
    origin_zone: np.ndarray
    tracking_number: pl.Series
    carrier: pl.Series


def draw_delay(rng: np.random.Generator, express: np.ndarray, table: dict[bool, tuple]):
    """Whole days between order and label, by service level (`table[express] = probs`)."""
    out = np.empty(len(express), dtype=np.int64)
    for flag in (False, True):
        mask = express == flag
        probs = np.asarray(table[flag])
        out[mask] = rng.choice(len(probs), size=int(mask.sum()), p=probs / probs.sum())
    return out


def plan_shipments(
    rng: np.random.Generator,
    clock: Clock,
    *,
    channel: np.ndarray,
    order_id: pl.Series,
    order_t: np.ndarray,
    ship_delay: np.ndarray,
    express: np.ndarray,
    location: np.ndarray,
    origin_zone: np.ndarray,
    dest_zone: np.ndarray,
    distance_km: np.ndarray,
    first_tracking: int,
) -> Shipments:
    """Label and delivery times for parcels (arrays are per shipment)."""
    n = len(order_t)
    order_day = clock.local_day(origin_zone, order_t)
    ship_day = order_day + ship_delay
    label_t = clock.local_to_utc(origin_zone, ship_day, rng.integers(9 * HOUR, 18 * HOUR, n))
    # A parcel cannot be labelled before it is ordered and picked.
    too_early = label_t < order_t + HOUR
    label_t = np.where(too_early, order_t + rng.integers(HOUR, 3 * HOUR, n), label_t)

    freight = channel == CHANNELS.index("wholesale")
    standard = np.clip(2 + distance_km // 900, 2, 5)
    fast = 1 + (distance_km > 1000)
    road = np.clip(2 + distance_km // 800, 2, 6)
    transit = np.where(freight, road, np.where(express, fast, standard)).astype(np.int64)
    slip = rng.choice(4, size=n, p=[0.74, 0.17, 0.06, 0.03])
    slip = np.where(express, np.minimum(slip, 1), slip)
    label_day = clock.local_day(origin_zone, label_t)
    deliver_day = label_day + transit + slip
    deliver_day += clock.weekday(deliver_day) == SUNDAY
    ofd = clock.local_to_utc(dest_zone, deliver_day, rng.integers(7 * HOUR, 9 * HOUR + 1800, n))
    ofd = np.maximum(ofd, label_t + 12 * HOUR)
    delivered_t = ofd + rng.integers(HOUR, 9 * HOUR, n)

    carrier_idx = pl.Series(np.where(freight, 2, (rng.random(n) < 0.4).astype(np.int64)))
    names = pl.Series([c[0] for c in CARRIERS]).gather(carrier_idx)
    prefixes = pl.Series([c[1] for c in CARRIERS]).gather(carrier_idx)
    numbers = pl.Series(100_000_000 + first_tracking + np.arange(n)).cast(pl.String)
    return Shipments(
        channel=channel,
        order_id=order_id,
        location=location,
        express=express,
        label_t=label_t,
        delivered_t=delivered_t,
        dest_zone=dest_zone,
        origin_zone=origin_zone,
        tracking_number=prefixes + numbers,
        carrier=names,
    )


def carrier_events(
    rng: np.random.Generator,
    clock: Clock,
    shipments: Shipments,
    *,
    line_shipment: np.ndarray,
    line_ref: pl.Series,
    line_sku: pl.Series,
    line_qty: np.ndarray,
    location_ids: np.ndarray,
    first_event: int,
) -> pl.DataFrame:
    """Tracking events of the parcels, as carrier_events records with their arrival file.

    One row per scan, and one row per shipment line for the `label_created` event (which carries
    the parcel's contents). Scans reach us minutes to two days late, so they arrive out of order,
    but never before their label.
    """
    s = shipments
    n = len(s.label_t)
    picked = s.label_t + rng.integers(HOUR // 2, 4 * HOUR, n)
    ofd = s.delivered_t - rng.integers(HOUR, 3 * HOUR, n)
    ofd = np.maximum(ofd, picked + 2 * HOUR)
    n_transit = rng.integers(1, 4, n)
    has_exception = rng.random(n) < 0.025

    # Scan list per shipment: picked_up, in_transit x k, [exception], out_for_delivery, delivered
    per = 3 + n_transit + has_exception
    ship_of = np.repeat(np.arange(n), per)
    pos = np.arange(len(ship_of)) - np.repeat(np.cumsum(per) - per, per)
    last = per[ship_of] - 1
    span = (ofd - picked)[ship_of]
    # Scans are spread evenly between pick-up and out-for-delivery, so they stay in order.
    frac = (pos + rng.random(len(ship_of)) * 0.8) / np.maximum(per[ship_of] - 1, 1)
    t = picked[ship_of] + (frac * span).astype(np.int64)
    status = np.full(len(ship_of), IN_TRANSIT)
    status[pos == 0] = PICKED_UP
    t[pos == 0] = picked[ship_of][pos == 0]
    status[pos == last - 1] = OUT_FOR_DELIVERY
    t[pos == last - 1] = ofd[ship_of][pos == last - 1]
    status[pos == last] = DELIVERED
    t[pos == last] = s.delivered_t[ship_of][pos == last]
    exc = has_exception[ship_of] & (pos == last - 2)
    status[exc] = EXCEPTION
    exception_code = (
        pl.Series(EXCEPTION_CODES)
        .gather(pl.Series(rng.integers(0, len(EXCEPTION_CODES), len(t))))
        .set(pl.Series(~exc), None)
    )
    dest_side = (status >= OUT_FOR_DELIVERY) | (frac > 0.5)
    zone = np.where(dest_side, s.dest_zone[ship_of], s.origin_zone[ship_of])

    label_seen = s.label_t + rng.integers(60, 1800, n)
    lag = np.where(
        rng.random(len(t)) < 0.9,
        rng.integers(60, 2 * HOUR, len(t)),
        rng.integers(2 * HOUR, 2 * DAY, len(t)),
    )
    seen = np.maximum(t + lag, label_seen[ship_of] + 1)

    n_lines = len(line_shipment)
    event_ids = "ev-" + pl.Series(first_event + np.arange(n + len(t))).cast(pl.String).str.zfill(9)
    tracking = s.tracking_number
    carrier = s.carrier
    scans = pl.DataFrame(
        {
            "event_id": event_ids.slice(n),
            "tracking_number": tracking.gather(ship_of),
            "carrier": carrier.gather(ship_of),
            "status": pl.Series(STATUSES).gather(pl.Series(status)),
            "occurred_at": clock.stamp(t, zone),
            "exception_code": exception_code,
            "_label_t": s.label_t[ship_of],
            "_zone": zone.astype(np.int64),
            "_seen": seen,
        }
    )
    labels = pl.DataFrame(
        {
            "event_id": event_ids.slice(0, n).gather(line_shipment),
            "tracking_number": tracking.gather(line_shipment),
            "carrier": carrier.gather(line_shipment),
            "status": pl.Series(STATUSES).gather(pl.Series(np.zeros(n_lines, dtype=np.int64))),
            "occurred_at": clock.stamp(s.label_t, s.origin_zone)
            .gather(line_shipment)
            .alias("occurred_at"),
            "exception_code": pl.Series([None] * n_lines, dtype=pl.String),
            "channel": pl.Series(CHANNELS).gather(s.channel[line_shipment]),
            "order_id": s.order_id.gather(line_shipment),
            "ship_from": pl.Series(location_ids).gather(s.location[line_shipment]),
            "service_level": pl.Series(["standard", "express"]).gather(
                s.express[line_shipment].astype(np.int64)
            ),
            "line_ref": line_ref,
            "sku": line_sku,
            "quantity": line_qty.astype(np.int64),
            "_label_t": s.label_t[line_shipment],
            "_zone": s.origin_zone[line_shipment].astype(np.int64),
            "_seen": label_seen[line_shipment],
        }
    )
    events = pl.concat([labels, scans], how="diagonal_relaxed")
    seen_all = events["_seen"].to_numpy()
    day = seen_all // DAY
    nn = 1 + (seen_all % DAY) // (DAY // FILES_PER_DAY)
    files = (
        "carrier/events_"
        + clock.iso_date(day, "%Y%m%d")
        + "_"
        + pl.Series(nn).cast(pl.String).str.zfill(2)
        + ".jsonl"
    )
    return events.with_columns(_day=pl.Series(day), _file=files, _t=pl.col("_seen")).drop("_seen")
