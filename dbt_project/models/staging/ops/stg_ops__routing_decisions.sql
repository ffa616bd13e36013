-- One row per routing decision (run, order line, outcome, location). The cost breakdown and the
-- explanation stay in ops.routing_decisions: the lifecycle reads the outcome, units and time.
with

source as (

    select * from {{ ops_source('routing_decisions',
        "select cast(null as varchar) as decision_id, cast(null as varchar) as run_id,
                cast(null as varchar) as order_line_id, cast(null as varchar) as order_id,
                cast(null as varchar) as channel, cast(null as varchar) as sku,
                cast(null as varchar) as outcome, cast(null as varchar) as location_id,
                cast(null as bigint) as units, cast(null as varchar) as rule,
                cast(null as varchar) as action_id, cast(null as timestamp) as decided_at") }}

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
