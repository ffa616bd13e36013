{#-
    The lifecycle's vocabulary, defined once (docs/lifecycle.md).

    `order_line_event(...)` is the select list of one row of int_order_line_events (contract 1
    in the order the columns are declared), from expressions of the caller's CTE: every
    `int_order_line_events__<source>` model ends with it, so the sources cannot drift apart.
    `units` null means the whole line. `_dbt_run_at` (bookkeeping, not an event attribute) marks
    the run that wrote the row, so the data tests of an incremental run read only those rows
    (macros/tested_rows.sql).
-#}
{% macro order_line_event(event_id, channel, order_id, line_ref, event_type, occurred_at,
                          recorded_at, source, source_ref, units='null', carrier='null',
                          tracking_number='null', location_id='null', detail='null') -%}
        cast({{ event_id }} as {{ dbt.type_string() }}) as event_id,
        cast({{ dbt.concat([channel, "':'", order_id, "':'", line_ref]) }} as {{ dbt.type_string() }})
            as order_line_id,
        cast({{ dbt.concat([channel, "':'", order_id]) }} as {{ dbt.type_string() }}) as channel_order_id,
        cast({{ channel }} as {{ dbt.type_string() }}) as channel,
        cast({{ order_id }} as {{ dbt.type_string() }}) as order_id,
        cast({{ line_ref }} as {{ dbt.type_string() }}) as line_ref,
        cast({{ event_type }} as {{ dbt.type_string() }}) as event_type,
        cast({{ units }} as {{ dbt.type_bigint() }}) as units,
        cast({{ occurred_at }} as {{ dbt.type_timestamp() }}) as occurred_at,
        cast({{ recorded_at }} as {{ dbt.type_timestamp() }}) as recorded_at,
        cast({{ source }} as {{ dbt.type_string() }}) as source,
        cast({{ source_ref }} as {{ dbt.type_string() }}) as source_ref,
        cast({{ carrier }} as {{ dbt.type_string() }}) as carrier,
        cast({{ tracking_number }} as {{ dbt.type_string() }}) as tracking_number,
        cast({{ location_id }} as {{ dbt.type_string() }}) as location_id,
        cast({{ detail }} as {{ dbt.type_string() }}) as detail,
        {{ run_marker() }} as _dbt_run_at
{%- endmacro %}

{#- Every event type, in business order. `state` is the line state the event moves the line to
    (none: the event is recorded but changes no state); `rank` orders states (a line never moves
    to a lower rank; held and validated share one); `order_rank` breaks ties between events of
    the same instant (the earlier business step first); `tracked` states progress per shipment
    (per tracking number), the others per line. -#}
{% macro lifecycle_event_types() -%}
    {{ return([
        {'event_type': 'placed',            'state': 'placed',            'rank': 10,  'order_rank': 10,  'tracked': false},
        {'event_type': 'held',              'state': 'held',              'rank': 20,  'order_rank': 20,  'tracked': false},
        {'event_type': 'validated',         'state': 'validated',         'rank': 20,  'order_rank': 21,  'tracked': false},
        {'event_type': 'allocated',         'state': 'allocated',         'rank': 30,  'order_rank': 30,  'tracked': false},
        {'event_type': 'released',          'state': 'released',          'rank': 40,  'order_rank': 40,  'tracked': true},
        {'event_type': 'cancelled',         'state': 'cancelled',         'rank': none, 'order_rank': 45, 'tracked': false},
        {'event_type': 'shipped',           'state': 'shipped',           'rank': 50,  'order_rank': 50,  'tracked': true},
        {'event_type': 'in_transit',        'state': 'in_transit',        'rank': 60,  'order_rank': 60,  'tracked': true},
        {'event_type': 'out_for_delivery',  'state': 'out_for_delivery',  'rank': 70,  'order_rank': 70,  'tracked': true},
        {'event_type': 'delivery_exception','state': none,                'rank': none, 'order_rank': 75, 'tracked': true},
        {'event_type': 'delivered',         'state': 'delivered',         'rank': 80,  'order_rank': 80,  'tracked': true},
        {'event_type': 'return_requested',  'state': none,                'rank': none, 'order_rank': 85, 'tracked': false},
        {'event_type': 'returned',          'state': 'returned',          'rank': 90,  'order_rank': 90,  'tracked': false},
        {'event_type': 'refund_rejected',   'state': none,                'rank': none, 'order_rank': 95, 'tracked': false},
        {'event_type': 'refunded',          'state': 'refunded',          'rank': 100, 'order_rank': 100, 'tracked': false},
    ]) }}
{%- endmacro %}

{#- A CASE mapping `event_type` to one attribute of lifecycle_event_types (NULL for none). -#}
{% macro lifecycle_attribute(event_type, attribute) -%}
    case {{ event_type }}
    {%- for t in lifecycle_event_types() %}
        when '{{ t.event_type }}' then
        {%- if t[attribute] is none %} null
        {%- elif t[attribute] is sameas true %} true
        {%- elif t[attribute] is sameas false %} false
        {%- elif t[attribute] is number %} {{ t[attribute] }}
        {%- else %} '{{ t[attribute] }}'
        {%- endif %}
    {%- endfor %}
    end
{%- endmacro %}

{#- A CASE giving the state of a rank (held for the shared rank of held and validated: callers
    resolve that one themselves). -#}
{% macro lifecycle_state_of_rank(rank) -%}
    case {{ rank }}
    {%- for t in lifecycle_event_types() if t.rank is not none and t.state != 'validated' %}
        when {{ t.rank }} then '{{ t.state }}'
    {%- endfor %}
    end
{%- endmacro %}

{#- The rank of the state a line moves to when it ships: a cancellation is final only before it. -#}
{% macro lifecycle_shipped_rank() -%}50{%- endmacro %}
