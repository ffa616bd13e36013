{#
    Every non-null value of the column is in the named vocabulary of the seed `vocabularies`,
    the one list the ingest engine, the Great Expectations suites and these tests share.
#}
{% test in_vocabulary(model, column_name, vocabulary) %}
select {{ column_name }} as value_outside_vocabulary
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in (
      select value from {{ ref('vocabularies') }}
      where vocabulary = '{{ vocabulary }}'
  )
{% endtest %}
