"""Every landing source, described once. See docs/landing_contract.md for the prose version."""

from __future__ import annotations

from pipelines.ingest.spec import Child, Field, Source

REFERENCE = ("products", "locations", "suppliers", "postcodes")

LATITUDE = (-90.0, 90.0)
LONGITUDE = (-180.0, 180.0)


def _f(name: str, type_: str = "text", **kw: object) -> Field:
    """A CSV field whose native column name equals its raw name."""
    return Field(name=name, path=name, type=type_, **kw)  # type: ignore[arg-type]


PRODUCTS = Source(
    name="products",
    table="reference__products",
    globs=("reference/products_*.csv",),
    format="csv",
    fields=(
        _f("sku"),
        _f("name"),
        _f("category"),
        _f("weight_kg", "double", bounds=(0, 10_000)),
        _f("pack_size", "int", bounds=(1, 1_000_000)),
        _f("unit_cost", "money"),
        _f("list_price", "money"),
        _f("currency", vocabulary="currency"),
        _f("supplier_id"),
        _f("is_active", "yn"),
    ),
    key=None,
)

LOCATIONS = Source(
    name="locations",
    table="reference__locations",
    globs=("reference/locations_*.csv",),
    format="csv",
    fields=(
        _f("location_id"),
        _f("name"),
        _f("kind", vocabulary="location_kind"),
        _f("latitude", "double", bounds=LATITUDE),
        _f("longitude", "double", bounds=LONGITUDE),
        _f("timezone", vocabulary="time_zone"),
        _f("postcode"),
        _f("can_ship", "yn"),
        _f("ships_channels", required=False),
    ),
    key=None,
)

SUPPLIERS = Source(
    name="suppliers",
    table="reference__suppliers",
    globs=("reference/suppliers_*.csv",),
    format="csv",
    fields=(
        _f("supplier_id"),
        _f("name"),
        _f("lead_time_days", "int", bounds=(0, 3_650)),
        _f("lead_time_sd_days", "double", bounds=(0, 3_650)),
        _f("min_order_qty", "int", quantity="nonnegative"),
    ),
    key=None,
)

POSTCODES = Source(
    name="postcodes",
    table="reference__postcodes",
    globs=("reference/postcodes_*.csv",),
    format="csv",
    fields=(
        _f("postcode"),
        _f("latitude", "double", bounds=LATITUDE),
        _f("longitude", "double", bounds=LONGITUDE),
        _f("region", required=False),
    ),
    key=None,
)

WEBSHOP = Source(
    name="webshop",
    table="webshop__orders",
    globs=("webshop/orders_*.jsonl",),
    format="jsonl",
    fields=(
        Field("id", "id", "bigint"),
        Field("name", "name", required=False),
        Field("created_at", "created_at", "timestamp"),
        Field("updated_at", "updated_at", "timestamp"),
        Field("cancelled_at", "cancelled_at", "timestamp", required=False),
        Field("cancel_reason", "cancel_reason", required=False),
        Field("currency", "currency", vocabulary="currency"),
        Field("financial_status", "financial_status", vocabulary="webshop_financial_status"),
        Field(
            "fulfillment_status",
            "fulfillment_status",
            required=False,
            vocabulary="webshop_fulfillment_status",
        ),
        Field("total_price", "total_price", "money"),
        Field("customer_id", "customer.id", "bigint", required=False),
        Field("customer_email", "customer.email", required=False),
        Field("ship_zip", "shipping_address.zip"),
        Field("ship_country_code", "shipping_address.country_code"),
        Field("ship_latitude", "shipping_address.latitude", "double", False, bounds=LATITUDE),
        Field("ship_longitude", "shipping_address.longitude", "double", False, bounds=LONGITUDE),
        Field(
            "shipping_code",
            "shipping_lines.0.code",
            required=False,
            vocabulary="webshop_service_level",
        ),
        Field("shipping_price", "shipping_lines.0.price", "money", required=False),
    ),
    key=("id", "updated_at"),
    child=Child(
        table="webshop__order_line_items",
        array_path="line_items",
        fields=(
            Field("id", "id", "bigint"),
            Field("sku", "sku", reference="sku"),
            Field("quantity", "quantity", "int", quantity="positive"),
            Field("price", "price", "money"),
        ),
        parent_fields={"order_id": "id", "order_updated_at": "updated_at"},
        required=True,
    ),
    depends_on=("products",),
)

MARKETPLACE = Source(
    name="marketplace",
    table="marketplace__order_items",
    globs=("marketplace/order_report_*.tsv",),
    format="tsv",
    fields=(
        Field("order_id", "order-id"),
        Field("order_item_id", "order-item-id"),
        Field("purchase_date", "purchase-date", "timestamp"),
        Field("last_updated_date", "last-updated-date", "timestamp"),
        Field("order_status", "order-status", vocabulary="marketplace_order_status"),
        Field("fulfillment_channel", "fulfillment-channel", required=False),
        Field(
            "ship_service_level",
            "ship-service-level",
            required=False,
            vocabulary="marketplace_service_level",
        ),
        Field("sku", "sku", reference="sku"),
        Field("quantity_purchased", "quantity-purchased", "int", quantity="positive"),
        Field("currency", "currency", vocabulary="currency"),
        Field("item_price", "item-price", "money"),
        Field("shipping_price", "shipping-price", "money", required=False),
        Field("ship_postal_code", "ship-postal-code"),
        Field("ship_country", "ship-country"),
        Field("latest_ship_date", "latest-ship-date", "timestamp", required=False),
        Field("latest_delivery_date", "latest-delivery-date", "timestamp", required=False),
    ),
    key=("order_id", "order_item_id", "last_updated_date"),
    depends_on=("products",),
)

POS = Source(
    name="pos",
    table="pos__sales",
    globs=("pos/*/sales_*.csv",),
    format="csv",
    fields=(
        _f("store_id", reference="location"),
        _f("register_id"),
        _f("receipt_no"),
        _f("line_no", "int"),
        _f("sold_at", "timestamp"),
        _f("sku", reference="sku"),
        # Negative quantities are returns at the till; only zero is an error.
        _f("qty", "int", quantity="nonzero"),
        _f("unit_price", "money"),
        _f("currency", vocabulary="currency"),
    ),
    key=("store_id", "register_id", "receipt_no", "line_no"),
    depends_on=("products", "locations"),
)

WHOLESALE = Source(
    name="wholesale",
    table="wholesale__order_lines",
    globs=("wholesale/PO_*.txt",),
    format="fixed",
    fields=(
        Field("customer_id", "2:8"),
        Field("po_number", "10:12"),
        Field("line_no", "22:4", "int"),
        Field("sku", "26:12", reference="sku"),
        Field("quantity", "38:7", "int", quantity="positive"),
        Field("unit_price", "45:9", "cents"),
        Field("order_date", "54:8", "yyyymmdd"),
        Field("requested_ship_date", "62:8", "yyyymmdd"),
        Field("ship_to_postcode", "70:10"),
        Field("ship_to_country", "80:2"),
    ),
    key=("customer_id", "po_number", "line_no"),
    record_types="D",
    min_line_length=81,
    depends_on=("products",),
)

STOCK_SNAPSHOTS = Source(
    name="stock_snapshots",
    table="stock__snapshots",
    globs=("stock/*/snapshot_*.csv",),
    format="csv",
    fields=(
        _f("location_id", reference="location"),
        _f("sku", reference="sku"),
        _f("snapshot_date", "date"),
        _f("on_hand", "int", quantity="nonnegative"),
    ),
    key=("location_id", "sku", "snapshot_date"),
    depends_on=("products", "locations"),
)

CYCLE_COUNTS = Source(
    name="cycle_counts",
    table="stock__cycle_counts",
    globs=("stock/*/cycle_count_*.csv",),
    format="csv",
    fields=(
        _f("location_id", reference="location"),
        _f("sku", reference="sku"),
        _f("counted_at", "timestamp"),
        _f("system_qty", "int", quantity="nonnegative"),
        _f("counted_qty", "int", quantity="nonnegative"),
        _f("counter_id", required=False),
    ),
    key=("location_id", "sku", "counted_at"),
    depends_on=("products", "locations"),
)

CARRIER_EVENTS = Source(
    name="carrier_events",
    table="carrier__tracking_events",
    globs=("carrier/events_*.jsonl",),
    format="jsonl",
    fields=(
        Field("event_id", "event_id"),
        Field("tracking_number", "tracking_number"),
        Field("carrier", "carrier"),
        Field("status", "status", vocabulary="carrier_status"),
        Field("occurred_at", "occurred_at", "timestamp"),
        Field("exception_code", "exception_code", required=False),
        Field(
            "channel",
            "shipment.channel",
            required=False,
            store=False,
            vocabulary="shipping_channel",
        ),
        Field("order_id", "shipment.order_id", required=False, store=False),
        Field("ship_from", "shipment.ship_from", required=False, store=False, reference="location"),
        Field("service_level", "shipment.service_level", required=False, store=False),
    ),
    key=("event_id",),
    child=Child(
        table="carrier__shipment_lines",
        array_path="shipment.lines",
        fields=(
            Field("line_ref", "line_ref"),
            Field("sku", "sku", reference="sku"),
            Field("quantity", "quantity", "int", quantity="positive"),
        ),
        parent_fields={
            "event_id": "event_id",
            "tracking_number": "tracking_number",
            "channel": "channel",
            "order_id": "order_id",
            "ship_from": "ship_from",
            "service_level": "service_level",
        },
        when="status = 'label_created'",
    ),
    check_event_order=True,
    depends_on=("products", "locations"),
)

RETURNS = Source(
    name="returns",
    table="returns__rma_lines",
    globs=("returns/rma_*.csv",),
    format="csv",
    fields=(
        _f("rma_id"),
        _f("rma_line", "int"),
        _f("channel", vocabulary="channel"),
        _f("order_id"),
        _f("line_ref", required=False),
        _f("sku", reference="sku"),
        _f("quantity", "int", quantity="positive"),
        _f("reason_code", vocabulary="return_reason"),
        _f("condition", required=False, vocabulary="return_condition"),
        _f("restockable", "yn", required=False),
        _f("refund_status", vocabulary="refund_status"),
        _f("refund_amount", "money", required=False),
        _f("currency", required=False, vocabulary="currency"),
        _f("requested_at", "timestamp"),
        _f("received_at", "timestamp", required=False),
        _f("received_location_id", required=False),
    ),
    key=("rma_id", "rma_line"),
    depends_on=("products",),
)

PURCHASE_ORDERS = Source(
    name="purchase_orders",
    table="inbound__purchase_order_lines",
    globs=("inbound/purchase_orders_*.csv",),
    format="csv",
    fields=(
        _f("po_id"),
        _f("po_line", "int"),
        _f("supplier_id", reference="supplier"),
        _f("location_id", reference="location"),
        _f("sku", reference="sku"),
        _f("ordered_qty", "int", quantity="positive"),
        _f("unit_cost", "money"),
        _f("currency", vocabulary="currency"),
        _f("ordered_date", "date"),
        _f("expected_date", "date"),
    ),
    key=("po_id", "po_line"),
    depends_on=("products", "locations", "suppliers"),
)

RECEIPTS = Source(
    name="receipts",
    table="inbound__receipts",
    globs=("inbound/receipts_*.csv",),
    format="csv",
    fields=(
        _f("receipt_id"),
        _f("po_id"),
        _f("po_line", "int"),
        _f("location_id", reference="location"),
        _f("sku", reference="sku"),
        _f("received_qty", "int", quantity="positive"),
        _f("received_date", "date"),
    ),
    key=("receipt_id", "po_id", "po_line"),
    depends_on=("products", "locations"),
)

# The Olist e-commerce export (docs/olist.md): the release's own file names and the shorter
# names of its subsets (a suffix before `.csv` allowed: `orders_2018-10-17.csv`), dropped in
# `olist/` or in one folder per export below it.
OLIST_ZONE = "America/Sao_Paulo"  # the export's timestamps: São Paulo wall-clock time, no offset


def _olist_globs(*stems: str) -> tuple[str, ...]:
    return tuple(f"olist/{folder}{stem}*.csv" for folder in ("", "*/") for stem in stems)


def _olist_time(name: str, required: bool = True) -> Field:
    return _f(name, "timestamp", required=required, time_zone=OLIST_ZONE)


# Olist products become known SKUs (their product_id; `refresh_reference_lookups`), so they
# load before the order items that reference them, like the product reference.
OLIST_PRODUCTS = Source(
    name="olist_products",
    table="olist__products",
    globs=_olist_globs("olist_products_dataset", "products"),
    format="csv",
    fields=(
        _f("product_id"),
        _f("product_category_name", required=False),
        # the release's own misspelling ("lenght"); the subset writes these as floats
        _f("product_name_lenght", "double", required=False, bounds=(0, 1_000_000)),
        _f("product_description_lenght", "double", required=False, bounds=(0, 1_000_000)),
        _f("product_photos_qty", "double", required=False, bounds=(0, 10_000)),
        _f("product_weight_g", "double", required=False, bounds=(0, 10_000_000)),
        _f("product_length_cm", "double", required=False, bounds=(0, 100_000)),
        _f("product_height_cm", "double", required=False, bounds=(0, 100_000)),
        _f("product_width_cm", "double", required=False, bounds=(0, 100_000)),
    ),
    key=None,
)

OLIST_CATEGORIES = Source(
    name="olist_categories",
    table="olist__category_translations",
    globs=_olist_globs("product_category_name_translation"),
    format="csv",
    fields=(_f("product_category_name"), _f("product_category_name_english")),
    key=None,
)

OLIST_CUSTOMERS = Source(
    name="olist_customers",
    table="olist__customers",
    globs=_olist_globs("olist_customers_dataset", "customers"),
    format="csv",
    fields=(
        _f("customer_id"),
        _f("customer_unique_id"),
        # kept as text: the subset wrote the prefix as an integer (leading zeros lost)
        _f("customer_zip_code_prefix"),
        _f("customer_city", required=False),
        _f("customer_state", required=False),
    ),
    key=("customer_id",),
)

# An order carries no version: an order seen again in the same status is a duplicate, one in
# a new status (a later export) is a new version.
OLIST_ORDERS = Source(
    name="olist_orders",
    table="olist__orders",
    globs=_olist_globs("olist_orders_dataset", "orders"),
    format="csv",
    fields=(
        _f("order_id"),
        _f("customer_id"),
        _f("order_status", vocabulary="olist_order_status"),
        _olist_time("order_purchase_timestamp"),
        _olist_time("order_approved_at", required=False),
        _olist_time("order_delivered_carrier_date", required=False),
        _olist_time("order_delivered_customer_date", required=False),
        _olist_time("order_estimated_delivery_date"),
    ),
    key=("order_id", "order_status"),
)

OLIST_ORDER_ITEMS = Source(
    name="olist_order_items",
    table="olist__order_items",
    globs=_olist_globs("olist_order_items_dataset", "order_items"),
    format="csv",
    fields=(
        _f("order_id"),
        _f("order_item_id", "int", quantity="positive"),
        _f("product_id", reference="sku"),
        _f("seller_id"),
        _olist_time("shipping_limit_date"),
        _f("price", "money"),
        _f("freight_value", "money"),
    ),
    key=("order_id", "order_item_id"),
    depends_on=("olist_products",),
)

# Reference data first: later sources check SKUs and locations against it.
SOURCES: tuple[Source, ...] = (
    PRODUCTS,
    LOCATIONS,
    SUPPLIERS,
    POSTCODES,
    WEBSHOP,
    MARKETPLACE,
    POS,
    WHOLESALE,
    STOCK_SNAPSHOTS,
    CYCLE_COUNTS,
    CARRIER_EVENTS,
    RETURNS,
    PURCHASE_ORDERS,
    RECEIPTS,
    OLIST_PRODUCTS,
    OLIST_CATEGORIES,
    OLIST_CUSTOMERS,
    OLIST_ORDERS,
    OLIST_ORDER_ITEMS,
)

SOURCES_BY_NAME = {s.name: s for s in SOURCES}
