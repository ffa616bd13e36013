"""The map the demo business lives on: its warehouses, stores and the ZIP codes it ships to.

Coordinates, time zones and ZIP prefixes are real facts about US metro areas; the individual ZIP
codes and their centroids are synthetic (a real 3-digit prefix, a jittered centroid).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

CHANNELS = ("webshop", "marketplace", "pos", "wholesale")
SHIPPED_CHANNELS = ("webshop", "marketplace", "wholesale")

# The web shop runs on the head office's clock.
SHOP_TIMEZONE = "America/New_York"

EARTH_RADIUS_KM = 6371.0
# Ship-from-store ranks as if the store were this much further away than the warehouses.
SHIP_FROM_STORE_PENALTY_KM = 300.0


@dataclass(frozen=True)
class Location:
    """A warehouse or store: one row of the locations reference."""

    location_id: str
    name: str
    kind: str  # warehouse | store
    latitude: float
    longitude: float
    timezone: str
    postcode: str
    ships_channels: tuple[str, ...]

    @property
    def can_ship(self) -> bool:
        return bool(self.ships_channels)


_ALL = ("webshop", "marketplace", "wholesale")
LOCATIONS: tuple[Location, ...] = (
    Location(
        "WH-RNO", "Reno DC", "warehouse", 39.5296, -119.8138, "America/Los_Angeles", "89502", _ALL
    ),
    Location(
        "WH-DAL", "Dallas DC", "warehouse", 32.7767, -96.7970, "America/Chicago", "75201", _ALL
    ),
    Location(
        "WH-CMH", "Columbus DC", "warehouse", 39.9612, -82.9988, "America/New_York", "43215", _ALL
    ),
    # Atlanta is a parcel-only building: no dock for wholesale pallets.
    Location(
        "WH-ATL",
        "Atlanta DC",
        "warehouse",
        33.7490,
        -84.3880,
        "America/New_York",
        "30303",
        ("webshop", "marketplace"),
    ),
    Location(
        "WH-ABE", "Allentown DC", "warehouse", 40.6084, -75.4902, "America/New_York", "18101", _ALL
    ),
    # The flagship store doubles as a ship-from-store node for the web shop.
    Location(
        "ST-NYC",
        "New York Flagship",
        "store",
        40.7506,
        -73.9935,
        "America/New_York",
        "10001",
        ("webshop",),
    ),
    Location(
        "ST-CHI", "Chicago Michigan Ave", "store", 41.8947, -87.6245, "America/Chicago", "60611", ()
    ),
    Location(
        "ST-LAX",
        "Los Angeles Grove",
        "store",
        34.0722,
        -118.3576,
        "America/Los_Angeles",
        "90036",
        (),
    ),
    Location(
        "ST-SEA", "Seattle Pine St", "store", 47.6114, -122.3367, "America/Los_Angeles", "98101", ()
    ),
    Location(
        "ST-MIA", "Miami Brickell", "store", 25.7650, -80.1936, "America/New_York", "33131", ()
    ),
    Location(
        "ST-DEN", "Denver Cherry Creek", "store", 39.7186, -104.9530, "America/Denver", "80206", ()
    ),
)

# name, state, latitude, longitude, metro population (millions), time zone, 3-digit ZIP prefixes
METROS: tuple[tuple[str, str, float, float, float, str, tuple[str, ...]], ...] = (
    ("New York", "NY", 40.7128, -74.0060, 19.5, "America/New_York", ("100", "112", "104", "070")),
    ("Los Angeles", "CA", 34.0522, -118.2437, 12.8, "America/Los_Angeles", ("900", "902", "917")),
    ("Chicago", "IL", 41.8781, -87.6298, 9.4, "America/Chicago", ("606", "600", "604")),
    ("Dallas", "TX", 32.7767, -96.7970, 7.9, "America/Chicago", ("752", "750", "761")),
    ("Houston", "TX", 29.7604, -95.3698, 7.3, "America/Chicago", ("770", "773")),
    ("Washington", "DC", 38.9072, -77.0369, 6.4, "America/New_York", ("200", "220", "208")),
    ("Philadelphia", "PA", 39.9526, -75.1652, 6.2, "America/New_York", ("191", "190")),
    ("Miami", "FL", 25.7617, -80.1918, 6.1, "America/New_York", ("331", "330", "334")),
    ("Atlanta", "GA", 33.7490, -84.3880, 6.2, "America/New_York", ("303", "300")),
    ("Boston", "MA", 42.3601, -71.0589, 4.9, "America/New_York", ("021", "019")),
    ("Phoenix", "AZ", 33.4484, -112.0740, 5.0, "America/Phoenix", ("850", "852")),
    ("San Francisco", "CA", 37.7749, -122.4194, 4.7, "America/Los_Angeles", ("941", "945")),
    ("Riverside", "CA", 33.9533, -117.3962, 4.6, "America/Los_Angeles", ("925",)),
    ("Detroit", "MI", 42.3314, -83.0458, 4.3, "America/Detroit", ("482", "480")),
    ("Seattle", "WA", 47.6062, -122.3321, 4.0, "America/Los_Angeles", ("981", "980")),
    ("Minneapolis", "MN", 44.9778, -93.2650, 3.7, "America/Chicago", ("554", "553")),
    ("San Diego", "CA", 32.7157, -117.1611, 3.3, "America/Los_Angeles", ("921", "920")),
    ("Tampa", "FL", 27.9506, -82.4572, 3.2, "America/New_York", ("336", "337")),
    ("Denver", "CO", 39.7392, -104.9903, 3.0, "America/Denver", ("802", "801")),
    ("St. Louis", "MO", 38.6270, -90.1994, 2.8, "America/Chicago", ("631", "630")),
    ("Baltimore", "MD", 39.2904, -76.6122, 2.8, "America/New_York", ("212", "210")),
    ("Orlando", "FL", 28.5383, -81.3792, 2.7, "America/New_York", ("328", "327")),
    ("Charlotte", "NC", 35.2271, -80.8431, 2.7, "America/New_York", ("282", "280")),
    ("San Antonio", "TX", 29.4241, -98.4936, 2.6, "America/Chicago", ("782",)),
    ("Portland", "OR", 45.5152, -122.6784, 2.5, "America/Los_Angeles", ("972", "970")),
    ("Sacramento", "CA", 38.5816, -121.4944, 2.4, "America/Los_Angeles", ("958", "956")),
    ("Pittsburgh", "PA", 40.4406, -79.9959, 2.4, "America/New_York", ("152", "150")),
    ("Austin", "TX", 30.2672, -97.7431, 2.4, "America/Chicago", ("787",)),
    ("Las Vegas", "NV", 36.1699, -115.1398, 2.3, "America/Los_Angeles", ("891",)),
    ("Cincinnati", "OH", 39.1031, -84.5120, 2.3, "America/New_York", ("452", "450")),
    ("Kansas City", "MO", 39.0997, -94.5786, 2.2, "America/Chicago", ("641", "661")),
    ("Columbus", "OH", 39.9612, -82.9988, 2.1, "America/New_York", ("432", "430")),
    ("Indianapolis", "IN", 39.7684, -86.1581, 2.1, "America/Indiana/Indianapolis", ("462",)),
    ("Cleveland", "OH", 41.4993, -81.6944, 2.1, "America/New_York", ("441", "440")),
    ("San Jose", "CA", 37.3382, -121.8863, 2.0, "America/Los_Angeles", ("951",)),
    ("Nashville", "TN", 36.1627, -86.7816, 2.0, "America/Chicago", ("372", "370")),
    ("Virginia Beach", "VA", 36.8529, -75.9780, 1.8, "America/New_York", ("234", "233")),
    ("Jacksonville", "FL", 30.3322, -81.6557, 1.6, "America/New_York", ("322",)),
    ("Raleigh", "NC", 35.7796, -78.6382, 1.4, "America/New_York", ("276", "275")),
    ("Salt Lake City", "UT", 40.7608, -111.8910, 1.3, "America/Denver", ("841",)),
    ("New Orleans", "LA", 29.9511, -90.0715, 1.3, "America/Chicago", ("701",)),
    ("Albuquerque", "NM", 35.0844, -106.6504, 0.9, "America/Denver", ("871",)),
)


@dataclass(frozen=True)
class Postcodes:
    """The ship-to ZIP codes: one entry per code, with its centroid, metro and demand weight."""

    postcode: np.ndarray  # str
    latitude: np.ndarray
    longitude: np.ndarray
    region: np.ndarray  # state code
    timezone: np.ndarray  # IANA name of the metro
    weight: np.ndarray  # share of demand, sums to 1


def build_postcodes(rng: np.random.Generator, per_million: float = 2.2) -> Postcodes:
    """A few hundred ZIP codes spread over the metros, weighted by population."""
    codes: list[str] = []
    lats: list[float] = []
    lons: list[float] = []
    regions: list[str] = []
    zones: list[str] = []
    weights: list[float] = []
    for _name, state, lat, lon, pop, tz, prefixes in METROS:
        n = max(3, round(pop * per_million))
        suffixes = rng.choice(100, size=n, replace=False) if n <= 100 else np.arange(n) % 100
        shares = rng.dirichlet(np.full(n, 2.0)) * pop
        for i, suffix in enumerate(suffixes):
            prefix = prefixes[i % len(prefixes)]
            codes.append(f"{prefix}{int(suffix):02d}")
            # Suburbs spread further out in bigger metros.
            spread = 0.12 + 0.03 * pop**0.5
            lats.append(round(lat + rng.normal(0, spread), 4))
            lons.append(round(lon + rng.normal(0, spread * 1.3), 4))
            regions.append(state)
            zones.append(tz)
            weights.append(float(shares[i]))
    # Different prefixes of one metro cannot collide; the same prefix reused within a metro
    # could, so keep the first occurrence only.
    _, first = np.unique(np.array(codes), return_index=True)
    keep = np.sort(first)
    w = np.array(weights)[keep]
    return Postcodes(
        postcode=np.array(codes)[keep],
        latitude=np.array(lats)[keep],
        longitude=np.array(lons)[keep],
        region=np.array(regions)[keep],
        timezone=np.array(zones)[keep],
        weight=w / w.sum(),
    )


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray):
    """Great-circle distance in kilometres, broadcasting over its inputs."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def utc_offset_seconds(timezone: str, day: date) -> int:
    """The zone's UTC offset at local noon of `day` (DST switches at 2am are ignored)."""
    local_noon = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(timezone))
    offset = local_noon.utcoffset() or timedelta(0)
    return int(offset.total_seconds())


def format_offset(seconds: int) -> str:
    """An ISO 8601 offset such as `-04:00`."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
