{#- Spark only (docs/spark.md): register the Parquet folders that pipelines/transform/
    spark_sources.py exported from the warehouse as external tables, under the schema and name
    the sources declare. `tables`: a list of {schema, name, path}. -#}
{% macro register_parquet_sources(tables) -%}
    {%- for schema in tables | map(attribute='schema') | unique -%}
        {%- do run_query('create database if not exists ' ~ schema) -%}
    {%- endfor -%}
    {%- for table in tables -%}
        {%- set relation = table.schema ~ '.`' ~ table.name ~ '`' -%}
        {%- do run_query('drop table if exists ' ~ relation) -%}
        {%- do run_query("create table " ~ relation ~ " using parquet location '" ~ table.path ~ "'") -%}
    {%- endfor -%}
    {{ log('registered ' ~ tables | length ~ ' source tables', info=true) }}
{%- endmacro %}
