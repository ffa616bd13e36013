{#-
    Helpers for the incremental models.

    `run_marker()` is the timestamp of the current dbt invocation. Incremental models stamp the
    rows they (re)write with it (`_dbt_run_at`), and a downstream incremental model finds the
    keys that changed upstream since its own last successful run by comparing the upstream
    marker with the largest one it has already consumed. Because a marker only grows, a run
    that failed half-way is caught up by the next one.
-#}
{% macro run_marker() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- The largest value of `column` in the current model's table, or a date before any data. -#}
{% macro high_water_mark(column) -%}
    (select coalesce(max({{ column }}), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }})
{%- endmacro %}

{#- The same mark as a constant: the max() runs once at compile time (only when the model is
    built incrementally) and the model's SQL gets a timestamp literal. A literal lets DuckDB push
    `column > mark` into the scan and skip the row groups written before it (zone maps), which a
    subquery, even uncorrelated, does not. Before execution (parsing) and on a full build it is
    the date before any data, like high_water_mark on an empty table. -#}
{% macro high_water_value(column) -%}
    {%- set mark = '1900-01-01 00:00:00' -%}
    {%- if execute and is_incremental() -%}
        {%- set found = run_query(
            'select strftime(max(' ~ column ~ "), '%Y-%m-%d %H:%M:%S.%f') from " ~ this
        ).columns[0].values()[0] -%}
        {%- if found is not none -%}{%- set mark = found -%}{%- endif -%}
    {%- endif -%}
    cast('{{ mark }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
