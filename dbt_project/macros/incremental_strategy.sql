{#-
    How an incremental model replaces the rows of the keys a run recomputed, per engine.

    DuckDB: delete+insert on the model's unique_key (rows of other keys stay as they are).
    Spark (docs/spark.md): its plain Parquet tables have no DELETE or MERGE (those need Delta,
    Iceberg or Hudi), and insert_overwrite without partitions by key would replace the whole
    table with the recomputed keys only. So on Spark the incremental models always rebuild in
    full (`replace_by_key_full_refresh`): every run gives what a full rebuild gives, at the
    cost of incrementality, until the project gets a table format with MERGE there.
-#}
{% macro replace_by_key_strategy() -%}
    {{ return(adapter.dispatch('replace_by_key_strategy', 'oms')()) }}
{%- endmacro %}

{% macro default__replace_by_key_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__replace_by_key_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{#- The model's `full_refresh` config: none (dbt's own choice, from --full-refresh) on DuckDB,
    always on Spark (see above). -#}
{% macro replace_by_key_full_refresh() -%}
    {{ return(adapter.dispatch('replace_by_key_full_refresh', 'oms')()) }}
{%- endmacro %}

{% macro default__replace_by_key_full_refresh() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__replace_by_key_full_refresh() -%}
    {{ return(true) }}
{%- endmacro %}
