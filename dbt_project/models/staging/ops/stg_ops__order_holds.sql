-- One row per hold on an order (hold_id): its reason and, once resolved, how, by whom and when.
with

source as (

    select * from {{ ops_source('order_holds',
        "select cast(null as string) as hold_id, cast(null as string) as channel_order_id,
                cast(null as string) as reason_code, cast(null as string) as detail,
                cast(null as string) as rules_version, cast(null as timestamp) as held_at,
                cast(null as string) as resolution, cast(null as timestamp) as resolved_at,
                cast(null as string) as resolved_by, cast(null as string) as resolution_id") }}

),

renamed as (

    select
        hold_id,
        channel_order_id,
        reason_code,
        detail,
        rules_version,
        held_at,
        resolution,
        resolved_at,
        resolved_by,
        resolution_id

    from source

)

select * from renamed
