{#- The `ops` tables are written by ops_actions (routing runs), not by dbt, and do not exist
    before the first routing run. Models that read them go through this macro, which falls back
    to an empty relation of the same columns so the project builds on a fresh warehouse. -#}
{% macro ops_relation(identifier, empty_select) -%}
    {%- set rel = none -%}
    {%- if execute -%}
        {%- set rel = adapter.get_relation(database=target.database, schema='ops',
                                           identifier=identifier) -%}
    {%- endif -%}
    {%- if rel is not none -%}
        {{ rel }}
    {%- else -%}
        ({{ empty_select }} where 1 = 0)
    {%- endif -%}
{%- endmacro %}
