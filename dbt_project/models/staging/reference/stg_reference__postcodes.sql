-- One row per postcode centroid: the version from the latest snapshot that carried it.
with

source as (

    select * from {{ source('reference', 'postcodes') }}

),

renamed as (

    select
        postcode,
        latitude,
        longitude,
        region,
        _batch_id,
        _file,
        _loaded_at

    from source

),

latest as (

    {{ latest_version('renamed', ['postcode'], '_loaded_at desc, _file desc') }}

)

select * from latest
