{#-
    One row per calendar day from the first demand day in the warehouse to the as-of date (the
    last order date), with `day_number` counting from 0. Built from a cross join of digits so it
    needs no engine-specific series generator (up to 100,000 days).
-#}
with

bounds as (

    select
        min(demand_date) as first_date,
        max(demand_date) as as_of_date

    from {{ ref('int_demand_lines_located') }}

),

digits as (

    select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
    union all select 5 union all select 6 union all select 7 union all select 8 union all select 9

),

numbers as (

    select
        ones.d + 10 * tens.d + 100 * hundreds.d + 1000 * thousands.d
            + 10000 * ten_thousands.d as day_number

    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
    cross join digits as ten_thousands

),

days as (

    select
        numbers.day_number,
        cast({{ dbt.dateadd('day', 'numbers.day_number', 'bounds.first_date') }} as date)
            as calendar_date,
        bounds.as_of_date

    from numbers
    cross join bounds
    where numbers.day_number <= {{ dbt.datediff('bounds.first_date', 'bounds.as_of_date', 'day') }}

)

select * from days
