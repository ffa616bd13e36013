-- One row per carrier tracking event (events of one shipment arrive out of order).
with

source as (

    select * from {{ source('carrier', 'tracking_events') }}

),

renamed as (

    select
        event_id,
        tracking_number,
        carrier,
        status as event_status,
        occurred_at,
        exception_code,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
