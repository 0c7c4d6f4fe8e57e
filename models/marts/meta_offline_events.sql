with

item_lines as (

    select * from {{ ref('int_item_lines_joined_to_customers') }}

),

final as (

    {#- Column names as in Amperity's query for the Meta offline events destination, so any
        query written for that destination also works. One row per item line; the exporter
        groups the rows of an order into one event. #}
    select
        cast(amperity_id as {{ meta_type_text() }}) as external_id,
        cast(email as {{ meta_type_text() }}) as email,
        cast(phone as {{ meta_type_text() }}) as phone,
        cast(given_name as {{ meta_type_text() }}) as given_name,
        cast(surname as {{ meta_type_text() }}) as surname,
        cast(birthdate as date) as birthdate,
        cast(gender as {{ meta_type_text() }}) as gender,
        cast(city as {{ meta_type_text() }}) as city,
        cast(state as {{ meta_type_text() }}) as state,
        cast(postal as {{ meta_type_text() }}) as postal,
        cast(country as {{ meta_type_text() }}) as country,
        cast(order_id as {{ meta_type_text() }}) as order_id,
        cast(item_quantity as integer) as quantity,
        cast(product_id as {{ meta_type_text() }}) as product_id,
        {#- Naive UTC (converted in staging); the exporter reads naive timestamps as UTC. #}
        cast(ordered_at as timestamp) as {{ adapter.quote('timestamp') }},
        {#- The unit price: the source's revenue is for the whole line. #}
        cast(item_revenue as {{ meta_type_double() }}) / item_quantity as price,
        cast(currency as {{ meta_type_text() }}) as currency,
        cast({{ meta_sql_string(var('action_source') | trim) }} as {{ meta_type_text() }}) as action_source,
        cast({{ meta_sql_string(var('event_name') | trim) }} as {{ meta_type_text() }}) as event_name,
        {#- Not sent; kept for analysts and the run report. #}
        cast(store_id as {{ meta_type_text() }}) as store_id,
        cast(purchase_channel as {{ meta_type_text() }}) as purchase_channel,
        cast(purchase_brand as {{ meta_type_text() }}) as purchase_brand,
        cast(window_as_of as timestamp) as window_as_of,
        cast(window_lookback_days as integer) as window_lookback_days
    from item_lines

)

select * from final
