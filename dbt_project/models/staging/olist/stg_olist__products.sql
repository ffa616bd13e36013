-- One row per Olist product (its latest snapshot row), with the category in English where the
-- export's translation file has it. Olist products are the SKUs of the olist channel.
with

products as (

    select * from {{ source('olist', 'products') }}

),

translations as (

    {{ latest_version(
        source('olist', 'category_translations'),
        ['product_category_name'],
        '_loaded_at desc, _file desc'
    ) }}

),

renamed as (

    select
        products.product_id as sku,
        products.product_category_name as category_pt,
        coalesce(translations.product_category_name_english, products.product_category_name)
            as category,
        products.product_weight_g / 1000.0 as weight_kg,
        products.product_length_cm as length_cm,
        products.product_height_cm as height_cm,
        products.product_width_cm as width_cm,
        cast(products.product_photos_qty as integer) as photos,
        products._file,
        products._loaded_at

    from products
    left join translations
        on products.product_category_name = translations.product_category_name

),

latest as (

    {{ latest_version('renamed', ['sku'], '_loaded_at desc, _file desc') }}

)

select * from latest
