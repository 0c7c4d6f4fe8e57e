{#-
    The events the exporter sends to Meta's Conversions API: one row per order of the line model,
    with the event's JSON exactly as it is posted (payload) and its SHA-256 (payload_hash, what
    the send log compares on the next run), or why the order cannot be sent (reject_reason).

    Every rule and every byte of the event is decided here; the exporter only sends the payloads
    of sendable rows that Meta does not already have.
-#}
{%- set max_amount = meta_max_amount() -%}

with

lines as (

    select * from {{ ref('int_meta_capi_lines_checked') }}
    where order_id is not null

),

priced_lines as (

    select
        *,
        {#- Exact amounts, only where they cannot overflow (larger orders are rejected). #}
        case when value_bound <= 10 * {{ max_amount }} then {{ meta_exact_amount('price') }} end as exact_price
    from lines

),

orders as (

    select
        order_id,
        count(*) as line_count,
        max(case when line_number = first_problem_line then line_problem end) as line_problem,
        count(distinct user_data_members) as customer_count,
        count(distinct currency_code) as currency_count,
        min(event_time) as event_time,
        sum(cast(quantity as bigint)) as num_items,
        sum(exact_price * cast(quantity as bigint)) as lines_value,
        {#- Event-wide fields come from the order's first line. #}
        {%- for column_name in ['event_id', 'event_name', 'action_source', 'event_source_url', 'client_user_agent',
                                'model_value', 'currency_code', 'minor_digits', 'user_data_members', 'dropped_user_data'] %}
        max(case when line_number = 1 then {{ column_name }} end) as {{ column_name }},
        {%- endfor %}
        {%- for key in meta_match_keys() | map(attribute=0) %}
        bool_or(line_number = 1 and has_{{ key }}) as has_{{ key }},
        {%- endfor %}
        {{ meta_string_agg(
            "case when product_id is not null then
                '{\"id\":' || " ~ meta_json_string('product_id') ~ "
                || ',\"item_price\":' || " ~ meta_json_amount(meta_round_amount('exact_price', 'minor_digits')) ~ "
                || ',\"quantity\":' || cast(cast(quantity as bigint) as " ~ meta_type_text() ~ ") || '}'
            end",
            "','",
            'line_number'
        ) }} as contents
    from priced_lines
    group by order_id

),

valued as (

    select
        *,
        {{ meta_round_amount(
            'coalesce(' ~ meta_exact_amount('model_value') ~ ', lines_value)', 'minor_digits') }} as order_value
    from orders

),

checked as (

    select
        *,
        case
            when line_problem is not null then line_problem
            {#- One event carries one customer: sending it under either identity would give that
                customer the other's purchases. #}
            when customer_count > 1 then 'order_customers_differ'
            when currency_count > 1 then 'order_currencies_differ'
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
