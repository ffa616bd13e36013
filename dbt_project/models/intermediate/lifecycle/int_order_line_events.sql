{#-
    One row per event that concerns one order line, from every source (contract 1, see
    docs/lifecycle.md): the union of the `int_order_line_events__<source>` models, which all
    end with the same `order_line_event` select list. A view: the per-source models hold the
    rows, and the lifecycle marts read only the lines with new events.
    A new source adds its model's suffix here.
-#}
{{ config(materialized='view') }}

{%- set sources = ['webshop', 'marketplace', 'pos', 'wholesale', 'carrier_events', 'returns',
                   'ops_routing', 'ops_holds'] %}

{% for name in sources %}
select * from {{ ref('int_order_line_events__' ~ name) }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
