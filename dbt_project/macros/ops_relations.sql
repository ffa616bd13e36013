{#- The `ops` tables are written by ops_actions (routing runs, deliveries), not by dbt, and do not
    exist before the first routing run. Their staging views read them through this macro: it
    names the declared source (so lineage shows it) and falls back to an empty relation of the
    same columns when the table is not there yet, so the project builds on a fresh warehouse.
    The view is rebuilt over the real table by the next build after the first routing run (the
    router and the oversell check read `ops.*` directly, so they never see the empty stand-in). -#}
{% macro ops_source(identifier, empty_select) -%}
    {%- set declared = source('ops', identifier) -%}
    {%- set rel = none -%}
    {%- if execute -%}
        {%- set rel = adapter.get_relation(database=declared.database, schema=declared.schema,
                                           identifier=declared.identifier) -%}
    {%- endif -%}
    {%- if rel is not none -%}
        {{ declared }}
    {%- else -%}
        ({{ empty_select }} where 1 = 0)
    {%- endif -%}
{%- endmacro %}
