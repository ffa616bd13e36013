-- One row per routing decision (run, order line, outcome, location). The cost breakdown and the
-- explanation stay in ops.routing_decisions: the lifecycle reads the outcome, units and time.
with

source as (

    select * from {{ ops_source('routing_decisions',
        "select cast(null as string) as decision_id, cast(null as string) as run_id,
                cast(null as string) as order_line_id, cast(null as string) as order_id,
                cast(null as string) as channel, cast(null as string) as sku,
                cast(null as string) as outcome, cast(null as string) as location_id,
                cast(null as bigint) as units, cast(null as string) as rule,
                cast(null as string) as action_id, cast(null as timestamp) as decided_at") }}

),

renamed as (

    select
        decision_id,
        run_id,
        order_line_id,
        order_id,
        channel,
        sku,
        outcome,
        location_id,
        units,
        rule,
        action_id,
        decided_at

    from source

)

select * from renamed
