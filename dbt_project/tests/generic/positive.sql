{#- Every value of the column is > 0 (NULLs are left to not_null). -#}
{% test positive(model, column_name) %}
select {{ column_name }} from {{ model }} where {{ column_name }} <= 0
{% endtest %}
