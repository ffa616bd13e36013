-- One row per location (warehouse or store; current version of the location reference).
-- KPI marts use the location id 'unassigned' for lines not (yet) shipped; it is not a row here.
with

locations as (

    select * from {{ ref('stg_reference__locations') }}

),

final as (

    select
        location_id,
        location_name,
        location_kind,
        latitude,
        longitude,
        timezone,
        postcode,
        can_ship,
        ships_channels,
        coalesce({{ dbt.position("'webshop'", 'ships_channels') }}, 0) > 0 as ships_webshop,
        coalesce({{ dbt.position("'marketplace'", 'ships_channels') }}, 0) > 0 as ships_marketplace,
        coalesce({{ dbt.position("'wholesale'", 'ships_channels') }}, 0) > 0 as ships_wholesale

    from locations

)

select * from final
