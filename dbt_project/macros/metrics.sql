{#- Small portable helpers for KPI arithmetic. -#}

{#- numerator / denominator as a double, NULL when the denominator is 0 or NULL. -#}
{% macro safe_ratio(numerator, denominator) -%}
    case
        when coalesce({{ denominator }}, 0) = 0 then null
        else cast({{ numerator }} as {{ oms.type_double() }}) / cast({{ denominator }} as {{ oms.type_double() }})
    end
{%- endmacro %}

{#- Hours (fractional) from `start_ts` to `end_ts`. -#}
{% macro hours_between(start_ts, end_ts) -%}
    cast({{ dbt.datediff(start_ts, end_ts, 'second') }} as {{ oms.type_double() }}) / 3600.0
{%- endmacro %}

{#- Continuous percentile (linear interpolation) of `expression` within a group. -#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'oms')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{#- A 64-bit float type (dbt.type_float() is single precision on some engines, DuckDB included). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'oms')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double precision{%- endmacro %}

{% macro spark__type_double() -%}double{%- endmacro %}
