{#- Use the configured schema name as-is (staging, intermediate, marts), not
    "<target schema>_<custom>", so every environment sees the same schema names in its own
    warehouse file. Models without a custom schema land in the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
