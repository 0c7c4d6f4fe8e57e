{#-
    With the default `source_schema` the source *is* the sample seed's table, but dbt cannot
    see that: without this dependency `dbt build` could create the view before the seed has
    loaded its table. Pointed at other tables, the model does not depend on the seeds.
-#}
{%- if var('source_schema', 'amperity_sample') == 'amperity_sample' %}
-- depends_on: {{ ref('unified_itemized_transactions') }}
{%- endif %}

{#-
    The columns the source really has: the contract's required ones must be there (else the
    run stops naming the missing column); every other column is optional and absent means
    NULL. The type of order_datetime decides how it is read (see meta_to_utc_timestamp).
-#}
{%- set source_relation = source('amperity', 'unified_itemized_transactions') -%}
{%- set columns = meta_source_columns(
    source_relation,
    required=['amperity_id', 'order_id', 'order_datetime', 'product_id', 'item_quantity', 'item_revenue']
) %}

with

source as (

    select * from {{ source_relation }}

),

renamed as (

    select
        {{ meta_clean_text('amperity_id') }} as amperity_id,
        {{ meta_clean_text('order_id') }} as order_id,

        {#- Naive UTC, read by the source column's type: a TIMESTAMP in `source_timezone`, a
            TIMESTAMP WITH TIME ZONE as the instant it is, ISO 8601 text by its offset (none =
            `source_timezone`). The window and the exporter (which treats naive timestamps as
            UTC) work in UTC. NULL when unreadable: the `order_datetime_is_readable` test
            warns about such lines. #}
        {{ meta_to_utc_timestamp('order_datetime', columns.get('order_datetime')) }} as ordered_at,

        {{ meta_clean_text('product_id') }} as product_id,
        cast(item_quantity as integer) as item_quantity,
        {#- Four decimals keep three-decimal currencies (BHD, KWD) exact. #}
        cast(item_revenue as decimal(18, 4)) as item_revenue,

        {#- Upper-cased and trimmed; a line without one is in `default_currency`. A malformed
            code (`US$`) is kept as is: the exporter rejects that row with a reason. #}
        coalesce(
            upper({{ meta_clean_text(meta_column_or_null(columns, 'currency', meta_type_text())) }}),
            {{ meta_sql_string(var('default_currency') | trim | upper) }}
        ) as currency,

        {{ meta_clean_text(meta_column_or_null(columns, 'purchase_channel', meta_type_text())) }} as purchase_channel,
        {{ meta_clean_text(meta_column_or_null(columns, 'purchase_brand', meta_type_text())) }} as purchase_brand,
        {{ meta_clean_text(meta_column_or_null(columns, 'store_id', meta_type_text())) }} as store_id,
        cast({{ meta_column_or_null(columns, 'is_cancellation', 'boolean') }} as boolean) as is_cancellation,
        cast({{ meta_column_or_null(columns, 'is_return', 'boolean') }} as boolean) as is_return

    from source

)

select * from renamed
