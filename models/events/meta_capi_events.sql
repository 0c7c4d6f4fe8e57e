{#-
    The events the exporter sends to Meta's Conversions API: one row per order of the line model,
    with the event's JSON exactly as it is posted (payload) and its SHA-256 (payload_hash, what
    the send log compares on the next run), or why the order cannot be sent (reject_reason).

    Every rule and every byte of the event is decided here and in int_meta_capi_orders; the
    exporter only sends the payloads of sendable rows that Meta does not already have.

    The orders come figured and with their contents from int_meta_capi_orders (built from the
    lines with plain aggregates, so that 10M lines build in 512MB): this model joins each
    order's customer (its hashed user_data, once per order), checks the order and writes it.
-#}
{%- set max_amount = meta_max_amount() -%}

with

orders as (

    select * from {{ ref('int_meta_capi_orders') }}

),

customers as (

    select * from {{ ref('int_meta_capi_customers_hashed') }}

),

send_order as (

    {#- The order the exporter sends in: oldest first (closest to Meta's age limit), then by
        order_id in code point order, the same on every engine. Numbered here, from narrow
        rows: on DuckDB the exporter sorts only these numbers and reads the events a page at a
        time, since sorting 3.3M events with their payloads ran out of 256MB (exporter/state.py).
        Read from the table, not the `orders` CTE: a CTE read twice is materialized whole by
        DuckDB, every column of it, which made this model 1.3x slower at 1M lines and 1.9x at
        10M (measured). #}
    select
        order_id,
        row_number() over (
            order by {{ meta_nulls_last('event_time') }}, {{ meta_binary_order('order_id') }}
        ) as send_order
    from {{ ref('int_meta_capi_orders') }}

),

with_customers as (

    select
        orders.*,
        send_order.send_order,
        customers.user_data_members,
        customers.dropped_user_data,
        {%- for key in meta_match_keys() | map(attribute=0) %}
        coalesce(customers.has_{{ key }}, false) as has_{{ key }}{{ ',' if not loop.last }}
        {%- endfor %}
    from orders
    inner join send_order
        on send_order.order_id = orders.order_id
    left join customers
        on customers.customer_digest = orders.customer_digest

),

valued as (

    select
        *,
        {{ meta_round_amount(
            'coalesce(' ~ meta_exact_amount('model_value') ~ ', lines_value)', 'minor_digits') }} as order_value
    from with_customers

),

checked as (

    select
        *,
        case
            when line_problem is not null then line_problem
            {#- One event carries one customer: sending it under either identity would give that
                customer the other's purchases. #}
            when has_customers_differing then 'order_customers_differ'
            when has_currencies_differing then 'order_currencies_differ'
            when order_value is null or order_value > {{ max_amount }} then 'value_too_large'
        end as reject_reason
    from valued

),

with_payload as (

    select
        *,
        case when reject_reason is null then
            '{"action_source":' || {{ meta_json_string('action_source') }}
            || ',"custom_data":{"content_type":"product","contents":[' || coalesce(contents, '') || ']'
            || ',"currency":' || {{ meta_json_string('currency_code') }}
            || ',"num_items":' || cast(num_items as {{ meta_type_text() }})
            || ',"order_id":' || {{ meta_json_string('order_id') }}
            || ',"value":' || {{ meta_json_amount('order_value') }} || '}'
            || ',"event_id":' || {{ meta_json_string("coalesce(nullif(event_id, ''), order_id)") }}
            || ',"event_name":' || {{ meta_json_string('event_name') }}
            || case when coalesce(event_source_url, '') <> ''
                then ',"event_source_url":' || {{ meta_json_string('event_source_url') }} else '' end
            || ',"event_time":' || cast(event_time as {{ meta_type_text() }})
            {#- client_user_agent is never hashed, and sorts first among user_data's keys. #}
            || ',"user_data":{'
            || case when coalesce(client_user_agent, '') <> '' then
                '"client_user_agent":' || {{ meta_json_string('client_user_agent') }}
                || case when user_data_members <> '' then ',' else '' end
                else '' end
            || user_data_members || '}}'
        end as payload
    from checked

),

final as (

    select
        coalesce(nullif(event_id, ''), order_id) as event_id,
        order_id,
        event_time,
        send_order,
        payload,
        {{ meta_sha256('payload') }} as payload_hash,
        reject_reason,
        {%- for key in meta_match_keys() | map(attribute=0) %}
        has_{{ key }},
        {%- endfor %}
        action_source,
        line_count,
        dropped_user_data,
        {#- The moment the rules were checked at (var as_of): the window test checks event_time
            against it, so it holds when `dbt test` runs later. #}
        {{ meta_as_of() }} as checked_at
    from with_payload

)

select * from final
