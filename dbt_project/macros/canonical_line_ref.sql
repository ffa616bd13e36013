{#-
    A shipment's or return's reference to an order line, in the form the order lines carry.

    Wholesale lines are `po_number-line_no` with the line number as a number; the fixed-width
    file pads it with zeros (`0001`), and a carrier or RMA that copies the padded form means the
    same line (landing contract), so leading zeros of the trailing number are dropped. Other
    channels' references are the channel's own line ids, kept as they are.
-#}
{% macro canonical_line_ref(channel, line_ref) -%}
    {{ return(adapter.dispatch('canonical_line_ref', 'oms')(channel, line_ref)) }}
{%- endmacro %}

{% macro default__canonical_line_ref(channel, line_ref) -%}
    case
        when {{ channel }} = 'wholesale'
            then regexp_replace({{ line_ref }}, '-0*([0-9]+)$', '-\1')
        else {{ line_ref }}
    end
{%- endmacro %}

{% macro spark__canonical_line_ref(channel, line_ref) -%}
    case
        when {{ channel }} = 'wholesale'
            then regexp_replace({{ line_ref }}, '-0*([0-9]+)$', '-$1')
        else {{ line_ref }}
    end
{%- endmacro %}
