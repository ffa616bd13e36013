{#-
    Action mart: one row per SKU × location with an order due (fct_safety_stock.is_order_due),
    with every figure it comes from and a sentence a planner reads. The planner page shows these
    for approval; an approved suggestion becomes a reorder request through the outbox.

    Purchase or transfer: a store is replenished from its home distribution centre (the nearest
    warehouse) by a transfer when the DC's stock above its own reorder point (DC position -
    DC reorder point) covers the transfer; stores draw on that surplus most urgent first
    (lowest position - reorder point, then location id) and a store whose transfer would go
    beyond what is left gets a purchase order instead. A transfer is rounded to pack size only
    (no supplier minimum: supplier_id and min_order_qty are null); a purchase to pack size and
    the supplier's minimum order quantity.

    suggestion_id = hash(sku, location, as-of date): the same order need on the same day keeps
    its id across reruns. suggestion_version = hash of every figure shown: a rerun with other
    figures is a new version (an approval of an older version is then stale).
-#}
{#- Figures as text for the explanation (1 decimal, z 2) and the version hash (6 decimals);
    '-' when unknown. -#}
{%- set shown = {} -%}
{%- set exact = {} -%}
{%- for column in ['position', 'on_hand', 'inbound', 'allocated', 'backorders', 'reorder_point',
                   'forecast_lt_units', 'protection_days', 'lead_time_mean_days',
                   'lead_time_sd_days', 'review_period_days', 'safety_stock', 'z',
                   '100 * service_level', 'forecast_lt_sigma', 'raw_qty', 'pack_size',
                   'min_order_qty', 'suggested_qty', 'dc_surplus', 'order_up_to', 'unit_cost'] -%}
    {%- do shown.update({column: "coalesce(cast(round(" ~ column ~ ", " ~ (2 if column == 'z' else 1)
        ~ ") as " ~ dbt.type_string() ~ "), '-')"}) -%}
    {%- do exact.update({column: "coalesce(cast(round(" ~ column ~ ", 6) as "
        ~ dbt.type_string() ~ "), '-')"}) -%}
{%- endfor -%}
with

safety_stock as (

    select * from {{ ref('fct_safety_stock') }}

),

locations as (

    select * from {{ ref('dim_locations') }}

),

home_dcs as (

    select
        stores.location_id,
        dcs.location_id as dc_location_id,
        row_number() over (
            partition by stores.location_id
            order by
                {{ haversine_km('stores.latitude', 'stores.longitude',
                                'dcs.latitude', 'dcs.longitude') }},
                dcs.location_id
        ) as nearness

    from locations as stores
    inner join locations as dcs
        on dcs.location_kind = 'warehouse'
        and stores.location_kind = 'store'
    where stores.latitude is not null
        and dcs.latitude is not null

),

due as (

    select
        safety_stock.*,
        home_dcs.dc_location_id

    from safety_stock
    left join home_dcs
        on safety_stock.location_id = home_dcs.location_id
        and home_dcs.nearness = 1
    where safety_stock.is_order_due

),

-- Stock a DC holds above its own reorder point, per SKU.
dc_surplus as (

    select
        location_id as dc_location_id,
        sku,
        position - reorder_point as surplus

    from safety_stock
    where position > reorder_point

),

drawn as (

    select
        due.*,
        dc_surplus.surplus as dc_surplus,
        sum(case when dc_surplus.surplus is not null then due.transfer_qty else 0 end) over (
            partition by due.dc_location_id, due.sku
            order by due.position - due.reorder_point, due.location_id
            rows between unbounded preceding and current row
        ) as dc_drawn

    from due
    left join dc_surplus
        on due.dc_location_id = dc_surplus.dc_location_id
        and due.sku = dc_surplus.sku

),

decided as (

    select
        *,
        case
            when dc_surplus is not null and dc_drawn <= dc_surplus then 'transfer'
            else 'purchase'
        end as kind

    from drawn

),

sized as (

    select
        as_of_date,
        sku,
        location_id,
        case when kind = 'purchase' then supplier_id end as supplier_id,
        kind,
        case when kind = 'transfer' then dc_location_id end as source_location_id,
        policy,
        abc_class,
        service_level,
        z,
        forecast_lt_units,
        forecast_lt_sigma,
        demand_daily,
        sigma_daily,
        lead_time_mean_days,
        lead_time_sd_days,
        review_period_days,
        protection_days,
        safety_stock,
        reorder_point,
        eoq,
        order_up_to,
        on_hand,
        inbound,
        allocated,
        backorders,
        position,
        raw_qty,
        pack_size,
        case when kind = 'purchase' then min_order_qty end as min_order_qty,
        case when kind = 'transfer' then transfer_qty else purchase_qty end as suggested_qty,
        dc_surplus,
        unit_cost,
        currency

    from decided

),

explained as (

    select
        *,
        suggested_qty * unit_cost as suggested_value,
        {{ dbt.concat([
            "'Position '", shown['position'],
            "' (on hand '", shown['on_hand'],
            "' + inbound '", shown['inbound'],
            "' - allocated '", shown['allocated'],
            "' - backorders '", shown['backorders'],
            "') is at or below the reorder point '", shown['reorder_point'],
            "' = forecast '", shown['forecast_lt_units'],
            "' over '", shown['protection_days'],
            "' days (lead time '", shown['lead_time_mean_days'],
            "' +/- '", shown['lead_time_sd_days'],
            "' d + review '", shown['review_period_days'],
            "' d) + safety stock '", shown['safety_stock'],
            "' (z '", shown['z'],
            "' for '", shown['100 * service_level'],
            "' % service, class '", "coalesce(abc_class, '?')",
            "', sigma '", shown['forecast_lt_sigma'],
            "'). Policy '", 'policy',
            "' orders '", shown['raw_qty'],
            "' rounded up to pack '",
            shown['pack_size'],
            "case when kind = 'purchase' then " ~ dbt.concat(["' and supplier minimum '", shown['min_order_qty']]) ~ " else '' end",
            "': '", shown['suggested_qty'],
            "case when kind = 'purchase' then " ~ dbt.concat(["' units from supplier '", "coalesce(supplier_id, '?')"])
                ~ " else " ~ dbt.concat(["' units by transfer from '", 'source_location_id',
                    "' (its stock above its reorder point: '", shown['dc_surplus'], "')'"]) ~ " end",
            "'.'"
        ]) }} as explanation

    from sized

)

select
    {{ dbt.hash(dbt.concat(['sku', "'|'", 'location_id', "'|'",
        'cast(as_of_date as ' ~ dbt.type_string() ~ ')'])) }} as suggestion_id,
    {{ dbt.hash(dbt.concat([
        'sku', "'|'", 'location_id', "'|'", 'cast(as_of_date as ' ~ dbt.type_string() ~ ')',
        "'|'", 'kind', "'|'", "coalesce(source_location_id, '')", "'|'", "coalesce(supplier_id, '')",
        "'|'", 'policy', "'|'", exact['z'], "'|'", exact['forecast_lt_units'],
        "'|'", exact['forecast_lt_sigma'], "'|'", exact['lead_time_mean_days'],
        "'|'", exact['lead_time_sd_days'], "'|'", exact['safety_stock'],
        "'|'", exact['reorder_point'], "'|'", exact['order_up_to'],
        "'|'", exact['position'], "'|'", exact['raw_qty'],
        "'|'", exact['suggested_qty'], "'|'", exact['unit_cost']
    ])) }} as suggestion_version,
    as_of_date,
    sku,
    location_id,
    supplier_id,
    kind,
    source_location_id,
    policy,
    abc_class,
    service_level,
    z,
    forecast_lt_units,
    forecast_lt_sigma,
    demand_daily,
    sigma_daily,
    lead_time_mean_days,
    lead_time_sd_days,
    review_period_days,
    protection_days,
    safety_stock,
    reorder_point,
    eoq,
    order_up_to,
    on_hand,
    inbound,
    allocated,
    backorders,
    position,
    raw_qty,
    pack_size,
    min_order_qty,
    suggested_qty,
    unit_cost,
    currency,
    suggested_value,
    explanation
from explained
