{#-
    Keep one row per business key: the latest version.

    `relation` is a CTE or relation name, `partition_by` a list of key columns and `order_by`
    the ordering (latest first) used to pick the version, for example
    "updated_at desc, _loaded_at desc". Used by staging models over raw tables that keep every
    version of a record (web shop orders, marketplace items, reference snapshots).

    The default implementation is ANSI SQL (a row_number() in a subquery); DuckDB gets QUALIFY.
-#}
{% macro latest_version(relation, partition_by, order_by) -%}
    {{ return(adapter.dispatch('latest_version', 'oms')(relation, partition_by, order_by)) }}
{%- endmacro %}

{% macro default__latest_version(relation, partition_by, order_by) -%}
    select *
    from (
        select
            versions.*,
            row_number() over (
                partition by {{ partition_by | join(', ') }}
                order by {{ order_by }}
            ) as _version_rank
        from {{ relation }} as versions
    ) as ranked
    where _version_rank = 1
{%- endmacro %}

{% macro duckdb__latest_version(relation, partition_by, order_by) -%}
    select *
    from {{ relation }}
    qualify row_number() over (
        partition by {{ partition_by | join(', ') }}
        order by {{ order_by }}
    ) = 1
{%- endmacro %}
