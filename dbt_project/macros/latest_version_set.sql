{#-
    Keep every row that belongs to the latest version of a parent record: rows whose
    `version_column` equals the largest value of that column within `partition_by`. Used for
    web shop line items, which arrive as a set per order version (so a line dropped from a later
    version is not kept).
-#}
{% macro latest_version_set(relation, partition_by, version_column) -%}
    {{ return(adapter.dispatch('latest_version_set', 'oms')(relation, partition_by, version_column)) }}
{%- endmacro %}

{% macro default__latest_version_set(relation, partition_by, version_column) -%}
    select versions.*
    from {{ relation }} as versions
    inner join (
        select {{ partition_by | join(', ') }}, max({{ version_column }}) as _latest_version
        from {{ relation }}
        group by {{ partition_by | join(', ') }}
    ) as latest
        on {% for column in partition_by -%}
            versions.{{ column }} = latest.{{ column }} and {% endfor -%}
            versions.{{ version_column }} = latest._latest_version
{%- endmacro %}

{% macro duckdb__latest_version_set(relation, partition_by, version_column) -%}
    select *
    from {{ relation }}
    qualify {{ version_column }} = max({{ version_column }}) over (
        partition by {{ partition_by | join(', ') }}
    )
{%- endmacro %}
