{#- A UTC timestamp (no time zone) from nanoseconds since the Unix epoch, such as a file's
    modification time in the ingest ledger (`mtime_ns`). -#}
{% macro timestamp_from_epoch_ns(epoch_ns) -%}
    {{ return(adapter.dispatch('timestamp_from_epoch_ns', 'oms')(epoch_ns)) }}
{%- endmacro %}

{#- Whole seconds: every engine can add seconds to a timestamp. -#}
{% macro default__timestamp_from_epoch_ns(epoch_ns) -%}
    {{ dbt.dateadd('second', 'cast(' ~ epoch_ns ~ ' / 1000000000 as ' ~ dbt.type_bigint() ~ ')',
                   "cast('1970-01-01 00:00:00' as timestamp)") }}
{%- endmacro %}

{#- DuckDB keeps microseconds (the resolution of its timestamps). -#}
{% macro duckdb__timestamp_from_epoch_ns(epoch_ns) -%}
    make_timestamp(cast({{ epoch_ns }} // 1000 as bigint))
{%- endmacro %}
