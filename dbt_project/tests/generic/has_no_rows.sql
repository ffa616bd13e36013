{#- The model is empty; every row it has is a failure (with `store_failures`, listed). -#}
{% test has_no_rows(model) %}
    select * from {{ model }}
{% endtest %}
