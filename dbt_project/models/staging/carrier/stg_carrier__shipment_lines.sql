-- One row per line of a shipment's contents, from its label_created event.
with

source as (

    select * from {{ source('carrier', 'shipment_lines') }}

),

renamed as (

    select
        event_id,
        tracking_number,
        channel,
        order_id,
        ship_from as ship_from_location_id,
        lower(service_level) as service_level,
        {{ canonical_line_ref('channel', 'line_ref') }} as line_ref,
        sku,
        quantity,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
