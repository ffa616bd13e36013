{#-
    Which rows a data test reads (dbt calls this macro for the `model` of every generic test;
    the project's version replaces dbt's own, as dbt documents for custom `where` logic).

    As dbt's: a test's `where` config filters the model first. In addition, a test whose
    `meta.tested_rows` names a run-marker column (set per folder in dbt_project.yml) reads only
    the rows the latest run wrote: `column` = its largest value, read at compile time and inlined
    as a literal so the filter skips the older row groups. Those models rewrite every row of a
    key on each run (delete+insert by that key), so a row that was tested when it was written
    stays valid until its key is written again, and the rows of the latest run are the only
    untested ones. A full build (or `--full-refresh`) writes every row with one marker, so it
    tests everything; `--vars '{test_every_row: true}'` does the same on any run. So a failure
    is reported by the run that wrote the failing rows (its build stops what depends on them);
    the next incremental run tests its own rows and does not repeat it.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set marker = (config.get('meta') or {}).get('tested_rows') -%}
    {%- set conditions = [] -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if marker and execute and not var('test_every_row', false) -%}
        {%- set latest = run_query(
            'select strftime(max(' ~ marker ~ "), '%Y-%m-%d %H:%M:%S.%f') from " ~ relation
        ).columns[0].values()[0] -%}
        {%- if latest is not none -%}
            {%- do conditions.append(
                marker ~ " = cast('" ~ latest ~ "' as " ~ dbt.type_timestamp() ~ ")"
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ')
            ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
