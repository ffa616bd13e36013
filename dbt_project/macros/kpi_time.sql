{#- Time-zone helpers for the KPI definitions: promises are judged in the zone they were made in. -#}

{#- The local calendar date, in IANA zone `zone`, of the naive-UTC timestamp `utc_ts`. -#}
{% macro local_date(utc_ts, zone) -%}
    {{ return(adapter.dispatch('local_date', 'oms')(utc_ts, zone)) }}
{%- endmacro %}

{% macro default__local_date(utc_ts, zone) -%}
    cast(convert_timezone('UTC', {{ zone }}, {{ utc_ts }}) as date)
{%- endmacro %}

{% macro duckdb__local_date(utc_ts, zone) -%}
    cast(timezone({{ zone }}, timezone('UTC', {{ utc_ts }})) as date)
{%- endmacro %}

{#- Spark's convert_timezone fails on a NULL zone where DuckDB's gives NULL: same NULL here. -#}
{% macro spark__local_date(utc_ts, zone) -%}
    case when {{ zone }} is not null
        then cast(convert_timezone('UTC', {{ zone }}, {{ utc_ts }}) as date) end
{%- endmacro %}

{#- The naive-UTC instant at which local date `local_day` begins in IANA zone `zone`. -#}
{% macro local_midnight_utc(local_day, zone) -%}
    {{ return(adapter.dispatch('local_midnight_utc', 'oms')(local_day, zone)) }}
{%- endmacro %}

{% macro default__local_midnight_utc(local_day, zone) -%}
    convert_timezone({{ zone }}, 'UTC', cast({{ local_day }} as timestamp))
{%- endmacro %}

{#- As above, and back to Spark's TIMESTAMP (convert_timezone gives TIMESTAMP_NTZ). -#}
{% macro spark__local_midnight_utc(local_day, zone) -%}
    case when {{ zone }} is not null
        then cast(convert_timezone({{ zone }}, 'UTC', cast({{ local_day }} as timestamp)) as timestamp) end
{%- endmacro %}

{% macro duckdb__local_midnight_utc(local_day, zone) -%}
    timezone('UTC', timezone({{ zone }}, cast({{ local_day }} as timestamp)))
{%- endmacro %}
