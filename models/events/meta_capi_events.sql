{#-
    The events the exporter sends to Meta's Conversions API: one row per order of the line model,
    with the event's JSON exactly as it is posted (payload) and its SHA-256 (payload_hash, what
    the send log compares on the next run), or why the order cannot be sent (reject_reason).

    Every rule and every byte of the event is decided here; the exporter only sends the payloads
    of sendable rows that Meta does not already have.

    The lines are narrow (the customer's key, not its user_data) and are read once: each line's
    contents entry is written, then one sort of the lines by order gives everything order-wide
    (window functions over the whole order), and only then is the customer's hashed user_data
    joined, once per order instead of once per line.
-#}
{%- set max_amount = meta_max_amount() -%}
{%- set first_line_columns = ['event_id', 'event_name', 'action_source', 'event_source_url', 'client_user_agent',
                              'model_value', 'currency_code', 'minor_digits', 'customer_digest'] -%}

with

lines as (

    select * from {{ ref('int_meta_capi_lines_checked') }}
    where order_id is not null

),

customers as (

    select * from {{ ref('int_meta_capi_customers_hashed') }}

),

priced_lines as (

    select
        *,
        {#- Exact amounts, only where they cannot overflow: a line above the order's bound makes
            the order's bound fail too (a sum of non-negative terms is at least each term), and
            `orders` then drops the order's exact amounts whole. #}
        case
            when abs(cast(price as {{ meta_type_double() }})) * abs(cast(quantity as {{ meta_type_double() }}))
                <= 10 * {{ max_amount }}
                then {{ meta_exact_amount('price') }}
        end as exact_price
    from lines

),

rounded_lines as (

    {#- Each amount rounded once, here, and its text written from this column. #}
    select
        *,
        {{ meta_round_amount('exact_price', 'minor_digits') }} as item_price
    from priced_lines

),

content_lines as (

    select
        *,
        case when product_id is not null then
            '{"id":' || {{ meta_json_string('product_id') }}
            || ',"item_price":' || {{ meta_json_amount('item_price') }}
            || ',"quantity":' || cast(cast(quantity as bigint) as {{ meta_type_text() }}) || '}'
        end as content
    from rounded_lines

),

order_windows as (

    {#- Each order's figures on each of its lines, from one sort of the lines by order and line
        number: a window spills to disk, whereas an ordered string_agg in a group by holds every
        order's lines in memory (it ran out of 512MB at 10M lines). #}
    select
        order_id,
        line_number,
        {%- for column_name in first_line_columns %}
        {{ column_name }},
        {%- endfor %}
        count(*) over order_lines as line_count,
        {#- The line_problem of the order's first line that has one: the smallest line_number,
            zero-padded so that text order is number order, then cut off again. #}
        min(case when line_problem is not null
            then lpad(cast(line_number as {{ meta_type_text() }}), 20, '0') || line_problem end) over order_lines as numbered_line_problem,
        {#- More than one customer (by user_data, not by customer_digest: two raw versions of
            a customer that normalize alike are one) or currency: the smallest and the largest
            differ. #}
        min(user_data_key) over order_lines as min_user_data_key,
        max(user_data_key) over order_lines as max_user_data_key,
        min(currency_code) over order_lines as min_currency_code,
        max(currency_code) over order_lines as max_currency_code,
        min(event_time) over order_lines as order_event_time,
        sum(cast(quantity as bigint)) over order_lines as num_items,
        sum(exact_price * cast(quantity as bigint)) over order_lines as exact_lines_value,
        {#- A bound on the order's value: an exact sum of absurd amounts would overflow the
            DECIMAL it is summed in. #}
        sum(abs(cast(price as {{ meta_type_double() }})) * abs(cast(quantity as {{ meta_type_double() }})))
            over order_lines as value_bound,
        {#- The frame is in line order, so the contents are. #}
        string_agg(content, ',') over order_lines as exact_contents
    from content_lines
    window order_lines as (
        partition by order_id
        order by line_number
        rows between unbounded preceding and unbounded following
    )

),

orders as (

    {#- One row per order: its first line, which gives the event-wide fields. #}
    select
        order_id,
        line_count,
        numbered_line_problem,
        min_user_data_key <> max_user_data_key as has_customers_differing,
        min_currency_code <> max_currency_code as has_currencies_differing,
        order_event_time as event_time,
        num_items,
        exact_lines_value,
        value_bound,
        {%- for column_name in first_line_columns %}
        {{ column_name }},
        {%- endfor %}
        exact_contents
    from order_windows
    where line_number = 1

),

bounded_orders as (

    select
        *,
        substr(numbered_line_problem, 21) as line_problem,
        {#- Above the bound no amount is exact: the value is the model's, if any, and no line is
            listed in contents. #}
        case when value_bound <= 10 * {{ max_amount }} then exact_lines_value end as lines_value,
        case when value_bound <= 10 * {{ max_amount }} then exact_contents end as contents
    from orders

),

with_customers as (

    select
        bounded_orders.*,
        customers.user_data_members,
        customers.dropped_user_data,
        {%- for key in meta_match_keys() | map(attribute=0) %}
        coalesce(customers.has_{{ key }}, false) as has_{{ key }}{{ ',' if not loop.last }}
        {%- endfor %}
    from bounded_orders
    left join customers
        on customers.customer_digest = bounded_orders.customer_digest

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
