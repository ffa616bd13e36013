-- One row per channel order the order holds step evaluated: validated or held.
with

source as (

    select * from {{ ops_source('order_validations',
        "select cast(null as string) as channel_order_id, cast(null as timestamp) as evaluated_at,
                cast(null as string) as outcome, cast(null as string) as rules_version,
                cast(null as string) as rules_sha") }}

),

renamed as (

    select
        channel_order_id,
        evaluated_at,
        outcome,
        rules_version,
        rules_sha

    from source

)

select * from renamed
