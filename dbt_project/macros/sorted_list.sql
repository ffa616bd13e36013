{#- The values of `measure` in a group joined by `delimiter_text`, in their own sort order.
    dbt.listagg's order-by clause is ignored on Spark (collect_list keeps no order), so Spark
    sorts the collected array instead; both give the same string. -#}
{% macro sorted_list(measure, delimiter_text) -%}
    {{ return(adapter.dispatch('sorted_list', 'oms')(measure, delimiter_text)) }}
{%- endmacro %}

{% macro default__sorted_list(measure, delimiter_text) -%}
    {{ dbt.listagg(measure, delimiter_text, 'order by ' ~ measure) }}
{%- endmacro %}

{% macro spark__sorted_list(measure, delimiter_text) -%}
    array_join(array_sort(collect_list({{ measure }})), {{ delimiter_text }})
{%- endmacro %}
