-- One row per outbound action (its idempotency key `action_id`), with its delivery state.
-- The payload stays in ops.outbox: nothing in dbt reads it.
with

source as (

    select * from {{ ops_source('outbox',
        "select cast(null as string) as action_id, cast(null as string) as kind,
                cast(null as string) as destination, cast(null as string) as state,
                cast(null as integer) as attempts, cast(null as integer) as total_attempts,
                cast(null as timestamp) as created_at, cast(null as timestamp) as delivered_at,
                cast(null as string) as source_run_id") }}

),

renamed as (

    select
        action_id,
        kind,
        destination,
        state,
        attempts,
        total_attempts,
        created_at,
        delivered_at,
        source_run_id

    from source

)

select * from renamed
