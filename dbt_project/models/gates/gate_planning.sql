-- One row: reorder requests may be made from this build. Built after the suggestions and what
-- they are computed from, and after their tests; `dbt build` skips it when one of those tests
-- fails, and Dagster then skips the reorder step, which depends on it, so a bad suggestion
-- never reaches a supplier and a failure elsewhere never stops planning.
-- depends_on: {{ ref('ops_reorder_suggestions') }}
-- depends_on: {{ ref('fct_safety_stock') }}
-- depends_on: {{ ref('fct_demand_forecasts') }}
select true as is_ready
