-- One row per sales channel, with its default delivery promise.
with

channels as (

    select * from {{ ref('channels') }}

),

service_levels as (

    select * from {{ ref('channel_service_levels') }}

),

promises as (

    select
        channel,
        count(*) as service_levels,
        max(promise_source) as promise_source

    from service_levels
    group by channel

),

final as (

    select
        channels.channel,
        channels.channel_name,
        channels.channel_kind,
        channels.ships_to_customer,
        promises.promise_source,
        coalesce(promises.service_levels, 0) as service_levels

    from channels
    left join promises
        on channels.channel = promises.channel

)

select * from final
