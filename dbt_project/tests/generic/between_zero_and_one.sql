{#- A rate lies in [0, 1] (NULL allowed: a rate with no denominator is NULL). -#}
{% test between_zero_and_one(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}
