-- One row per web shop order version (id, updated_at): every change to an order, not only the
-- latest (stg_webshop__orders keeps that). The lifecycle reads when each change first appeared.
with

source as (

    select * from {{ source('webshop', 'orders') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as order_id,
        created_at as ordered_at,
        updated_at,
        cancelled_at,
        cancel_reason,
        financial_status,
        fulfillment_status,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
