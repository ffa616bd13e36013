"""What the demo business sells and who supplies it: products, suppliers, demand and promotions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# name, share of SKUs, median list price (USD), weight range (kg), return propensity
CATEGORIES: tuple[tuple[str, float, float, tuple[float, float], float], ...] = (
    ("Kitchen", 0.18, 24.0, (0.2, 3.0), 0.06),
    ("Home Decor", 0.14, 32.0, (0.3, 4.0), 0.08),
    ("Bath", 0.10, 18.0, (0.1, 1.5), 0.06),
    ("Bedding", 0.10, 45.0, (0.5, 3.5), 0.11),
    ("Apparel", 0.12, 29.0, (0.1, 1.0), 0.16),
    ("Outdoor", 0.10, 55.0, (0.5, 12.0), 0.07),
    ("Storage", 0.10, 16.0, (0.2, 2.5), 0.05),
    ("Lighting", 0.08, 39.0, (0.3, 4.0), 0.08),
    ("Pet", 0.08, 21.0, (0.2, 9.0), 0.05),
)

_ADJECTIVES = (
    "Classic",
    "Modern",
    "Rustic",
    "Compact",
    "Deluxe",
    "Essential",
    "Nordic",
    "Urban",
    "Coastal",
    "Heritage",
    "Everyday",
    "Studio",
)
_NOUNS = {
    "Kitchen": ("Skillet", "Knife Set", "Mixing Bowl", "Cutting Board", "Kettle", "Colander"),
    "Home Decor": ("Vase", "Picture Frame", "Throw Pillow", "Wall Clock", "Candle", "Mirror"),
    "Bath": ("Towel", "Bath Mat", "Soap Dispenser", "Shower Caddy", "Robe"),
    "Bedding": ("Duvet Cover", "Sheet Set", "Pillow", "Quilt", "Blanket"),
    "Apparel": ("T-Shirt", "Hoodie", "Socks 3-Pack", "Cap", "Scarf", "Apron"),
    "Outdoor": ("Folding Chair", "Planter", "Lantern", "Picnic Blanket", "Grill Brush"),
    "Storage": ("Basket", "Box", "Shelf Organizer", "Hanger Set", "Drawer Divider"),
    "Lighting": ("Table Lamp", "Floor Lamp", "String Lights", "Pendant", "Night Light"),
    "Pet": ("Pet Bed", "Leash", "Bowl Set", "Chew Toy", "Litter Mat"),
}

# supplier_id, name, lead time (days), lead time standard deviation (days), min order qty
SUPPLIERS: tuple[tuple[str, str, int, float, int], ...] = (
    ("SUP-01", "Harbor Home Goods", 5, 1.0, 6),
    ("SUP-02", "Summit Textiles", 9, 1.5, 12),
    ("SUP-03", "Pacific Trading Co", 14, 3.0, 24),
    ("SUP-04", "Great Lakes Supply", 21, 4.0, 12),
    ("SUP-05", "Orient Sourcing Ltd", 30, 6.0, 24),
)

# Supplier trouble: purchase orders placed in these days (offsets from the start, inclusive)
# arrive this many days late. It hits every location at once, which is what empties a SKU
# across the whole network and shows up as short lines.
# (supplier index, first day, last day, extra days)
DISRUPTIONS: tuple[tuple[int, int, int, int], ...] = (
    (0, 6, 12, 6),
    (2, 15, 35, 9),
    (4, 50, 70, 12),
    (1, 72, 85, 7),
)


def disruption_days(supplier: np.ndarray, day: int) -> np.ndarray:
    """Extra lead days for purchase orders placed on `day`, per supplier index."""
    extra = np.zeros(len(supplier), dtype=np.int64)
    for index, first, last, days in DISRUPTIONS:
        if first <= day <= last:
            extra[supplier == index] += days
    return extra


@dataclass(frozen=True)
class Catalog:
    """The product reference and the demand model behind it; arrays are indexed by SKU."""

    sku: np.ndarray  # str, SKU-00001 ...
    name: np.ndarray
    category: np.ndarray  # index into CATEGORIES
    weight_kg: np.ndarray
    pack_size: np.ndarray
    unit_cost: np.ndarray  # USD
    list_price: np.ndarray  # USD
    supplier: np.ndarray  # index into SUPPLIERS
    is_active: np.ndarray  # bool
    # Relative popularity per channel (rows follow geography.CHANNELS); a long tail where a few
    # SKUs sell every day and most only now and then. Inactive SKUs have zero demand.
    popularity: np.ndarray  # shape (n_channels, n_skus), rows sum to 1
    return_rate: np.ndarray  # probability a shipped line comes back

    @property
    def size(self) -> int:
        return len(self.sku)


def build_catalog(rng: np.random.Generator, n_skus: int, n_channels: int) -> Catalog:
    """Products with prices, weights, pack sizes, suppliers and a long-tailed demand model."""
    shares = np.array([c[1] for c in CATEGORIES])
    category = rng.choice(len(CATEGORIES), size=n_skus, p=shares / shares.sum())
    median_price = np.array([c[2] for c in CATEGORIES])[category]
    list_price = np.round(median_price * rng.lognormal(0.0, 0.45, n_skus)) - 0.01
    list_price = np.maximum(list_price, 2.99)
    unit_cost = np.round(list_price * rng.uniform(0.32, 0.58, n_skus), 2)
    lo = np.array([c[3][0] for c in CATEGORIES])[category]
    hi = np.array([c[3][1] for c in CATEGORIES])[category]
    weight = np.round(lo + (hi - lo) * rng.beta(1.5, 3.0, n_skus), 2)
    pack_size = rng.choice([1, 2, 4, 6, 12], size=n_skus, p=[0.2, 0.15, 0.25, 0.25, 0.15])
    supplier = rng.choice(len(SUPPLIERS), size=n_skus, p=[0.25, 0.2, 0.25, 0.15, 0.15])
    is_active = rng.random(n_skus) > 0.03

    names = np.array(
        [
            f"{_ADJECTIVES[rng.integers(len(_ADJECTIVES))]} "
            f"{_NOUNS[CATEGORIES[c][0]][rng.integers(len(_NOUNS[CATEGORIES[c][0]]))]}"
            for c in category
        ]
    )
    # Long tail: lognormal popularity, plus a handful of hero products.
    base = rng.lognormal(0.0, 1.5, n_skus)
    heroes = rng.choice(n_skus, size=max(3, n_skus // 60), replace=False)
    base[heroes] *= 8.0
    base[~is_active] = 0.0
    affinity = rng.lognormal(0.0, 0.5, (n_channels, n_skus))
    popularity = base * affinity
    popularity /= popularity.sum(axis=1, keepdims=True)
    return_rate = np.array([c[4] for c in CATEGORIES])[category] * rng.uniform(0.7, 1.3, n_skus)
    return Catalog(
        sku=np.array([f"SKU-{i + 1:05d}" for i in range(n_skus)]),
        name=names,
        category=category,
        weight_kg=weight,
        pack_size=pack_size,
        unit_cost=unit_cost,
        list_price=list_price,
        supplier=supplier,
        is_active=is_active,
        popularity=popularity,
        return_rate=return_rate,
    )


@dataclass(frozen=True)
class Promotion:
    """A sale: days (offsets from the start, inclusive) when some SKUs sell more, at a discount."""

    name: str
    first_day: int
    last_day: int
    channels: tuple[str, ...]
    sku_mask: np.ndarray  # bool per SKU
    uplift: float
    discount: float

    def active(self, day: int, channel: str) -> bool:
        return self.first_day <= day <= self.last_day and channel in self.channels


def build_promotions(rng: np.random.Generator, n_skus: int) -> tuple[Promotion, ...]:
    """Three promotions at fixed offsets, so a longer run never moves an earlier one."""
    specs = (
        ("Summer Clearance", 4, 8, ("webshop", "marketplace"), 0.12, 2.6, 0.25),
        ("Labor Day Sale", 33, 37, ("webshop", "marketplace", "pos"), 0.10, 2.2, 0.20),
        ("Fall Home Event", 70, 75, ("webshop",), 0.08, 3.0, 0.15),
    )
    return tuple(
        Promotion(name, first, last, channels, rng.random(n_skus) < share, uplift, discount)
        for name, first, last, channels, share, uplift, discount in specs
    )
