{#-
    With the default `source_schema` the source *is* the sample seed's table, but dbt cannot
    see that: without this dependency `dbt build` could create the view before the seed has
    loaded its table. Pointed at other tables, the model does not depend on the seeds.
-#}
{%- if var('source_schema', 'amperity_sample') == 'amperity_sample' %}
-- depends_on: {{ ref('unified_itemized_transactions') }}
{%- endif %}

with

source as (

    select * from {{ source('amperity', 'unified_itemized_transactions') }}

),

renamed as (

    select
        {{ meta_clean_text('amperity_id') }} as amperity_id,
        {{ meta_clean_text('order_id') }} as order_id,

        {#- Read the naive source value in `source_timezone` and keep it as naive UTC: the
            window and the exporter (which treats naive timestamps as UTC) work in UTC. #}
        timezone(
            'UTC',
            timezone({{ meta_sql_string(var('source_timezone') | trim) }}, cast(order_datetime as timestamp))
        ) as ordered_at,

        {{ meta_clean_text('product_id') }} as product_id,
        cast(item_quantity as integer) as item_quantity,
        {#- Four decimals keep three-decimal currencies (BHD, KWD) exact. #}
        cast(item_revenue as decimal(18, 4)) as item_revenue,

        {#- Upper-cased and trimmed; a line without one is in `default_currency`. A malformed
            code (`US$`) is kept as is: the exporter rejects that row with a reason. #}
        coalesce(
            upper({{ meta_clean_text('currency') }}),
            {{ meta_sql_string(var('default_currency') | trim | upper) }}
        ) as currency,

        {{ meta_clean_text('purchase_channel') }} as purchase_channel,
        {{ meta_clean_text('purchase_brand') }} as purchase_brand,
        {{ meta_clean_text('store_id') }} as store_id,
        cast(is_cancellation as boolean) as is_cancellation,
        cast(is_return as boolean) as is_return

    from source

)

select * from renamed
