-- One row per location (warehouse or store): the version from the latest snapshot that carried it.
with

source as (

    select * from {{ source('reference', 'locations') }}

),

renamed as (

    select
        location_id,
        name as location_name,
        kind as location_kind,
        latitude,
        longitude,
        timezone,
        postcode,
        can_ship,
        ships_channels,
        _batch_id,
        _file,
        _loaded_at

    from source

),

latest as (

    {{ latest_version('renamed', ['location_id'], '_loaded_at desc, _file desc') }}

)

select * from latest
