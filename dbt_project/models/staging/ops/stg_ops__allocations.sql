-- One row per (routing run, order line, location): units a routing run allocated there.
with

source as (

    select * from {{ ops_source('allocations',
        "select cast(null as string) as run_id, cast(null as string) as order_line_id,
                cast(null as string) as sku, cast(null as string) as location_id,
                cast(null as bigint) as units, cast(null as string) as action_id,
                cast(null as timestamp) as allocated_at") }}

),

renamed as (

    select
        run_id,
        order_line_id,
        sku,
        location_id,
        units,
        action_id,
        allocated_at

    from source

)

select * from renamed
