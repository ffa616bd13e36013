-- One row per Olist customer id (the export has one per order; `customer_unique_id` is the
-- person). The zip code prefix is the first five digits of a Brazilian CEP, zero-padded again
-- where an export wrote it as a number.
with

source as (

    select * from {{ source('olist', 'customers') }}

),

renamed as (

    select
        customer_id,
        customer_unique_id,
        lpad(customer_zip_code_prefix, 5, '0') as zip_code_prefix,
        customer_city as city,
        customer_state as state,
        _file,
        _loaded_at

    from source

),

latest as (

    {{ latest_version('renamed', ['customer_id'], '_loaded_at desc, _file desc') }}

)

select * from latest
