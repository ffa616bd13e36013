-- One row: routing may run on this build. It is built after the marts routing reads and after
-- their tests; `dbt build` skips it when one of those tests fails (dbt skips everything built
-- on a failing test), and Dagster then skips the routing step, which depends on it. So a bad
-- input never reaches a warehouse, and a failure elsewhere never stops routing.
-- depends_on: {{ ref('ops_open_order_lines') }}
-- depends_on: {{ ref('fct_available_to_promise') }}
-- depends_on: {{ ref('dim_locations') }}
select true as is_ready
