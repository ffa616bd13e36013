{#- The last non-NULL value of `expression` in the window that follows (`... over w`): the
    IGNORE NULLS option is written inside the call on DuckDB and as an argument on Spark. -#}
{% macro last_non_null(expression) -%}
    {{ return(adapter.dispatch('last_non_null', 'oms')(expression)) }}
{%- endmacro %}

{% macro default__last_non_null(expression) -%}
    last_value({{ expression }} ignore nulls)
{%- endmacro %}

{% macro spark__last_non_null(expression) -%}
    last_value({{ expression }}, true)
{%- endmacro %}
