{#-
    Helpers of the incremental KPI catalogue (models/marts/kpi/, docs/operations.md).

    The KPI order lines are judged at the cut-off, the latest business time the warehouse has
    seen. A run recomputes the orders a load touched and the lines still open to the cut-off;
    every other line is settled (its flags no longer move as the cut-off advances) and only its
    stamp of the cut-off is brought up to date, by `restamp_cut_off` after the run.
-#}

{#-
    Post-hook: the rows a run did not rewrite (settled ones) take the current cut-off, which
    the rows it did rewrite already carry, so every row shows the cut-off it is judged at, as
    a full rebuild would. `columns` maps a cut-off column to its expression over `latest`.
-#}
{% macro restamp_cut_off(columns) -%}
    {{ return(adapter.dispatch('restamp_cut_off', 'oms')(columns)) }}
{%- endmacro %}

{% macro default__restamp_cut_off(columns) -%}
    update {{ this }} as restamped
    set {% for column, expression in columns.items() -%}
        {{ column }} = {{ expression }}{% if not loop.last %}, {% endif %}
    {%- endfor %}
    from (select max(as_of_at) as as_of_at from {{ this }}) as latest
    where restamped.as_of_at < latest.as_of_at
{%- endmacro %}

{#- Spark rebuilds these models in full on every run (macros/incremental_strategy.sql), so
    every row already carries the current cut-off (and its Parquet tables have no UPDATE). -#}
{% macro spark__restamp_cut_off(columns) -%}
    select 1
{%- endmacro %}

{#-
    The periods (`period_start` of `grain`) to recompute: those of the order days of the KPI
    lines rewritten since this model last consumed them (`_lines_run_at`), before and after
    the rewrite (an order whose day changed leaves its old day too).
-#}
{% macro kpi_touched_days(lines) -%}
    select kpi_date
    from {{ lines }}
    where _dbt_run_at > {{ high_water_mark('_lines_run_at') }}
    union
    select _previous_kpi_date
    from {{ lines }}
    where _dbt_run_at > {{ high_water_mark('_lines_run_at') }}
        and _previous_kpi_date is not null
{%- endmacro %}
