-- One row per return authorisation (RMA) line.
with

source as (

    select * from {{ source('returns', 'rma_lines') }}

),

renamed as (

    select
        rma_id,
        rma_line,
        channel,
        order_id,
        {{ canonical_line_ref('channel', 'line_ref') }} as line_ref,
        sku,
        quantity,
        reason_code,
        condition as item_condition,
        restockable as is_restockable,
        refund_status,
        refund_amount,
        currency,
        requested_at,
        received_at,
        received_location_id,
        _batch_id,
        _file,
        _loaded_at

    from source

)

select * from renamed
