{#-
    One row per order of the line model: its figures (line count, first line problem, whether
    its lines name more than one customer or currency, earliest time, items, exact value and a
    bound on it), the event-wide fields of its first line, and its contents: the JSON text of
    its lines' entries, in line order. meta_capi_events joins the customer to it and writes the
    event.

    Built with nothing but plain aggregates, so that it spills to disk: at 10M lines an ordered
    string_agg over the lines (in a group by or over a window) held every order's lines in
    memory and ran out of 512MB. The contents are joined instead by line number: an order of up
    to 8 lines in the one group by per order (the entry of line 1, then 2, ...), a larger order
    in steps that each join 8 consecutive blocks of the step before (8 lines, then 64, 512), and
    only the few orders beyond that (more than 512 lines) with an ordered string_agg over their
    512-line blocks.
-#}
{%- set max_amount = meta_max_amount() -%}
{%- set first_line_columns = ['event_id', 'event_name', 'action_source', 'event_source_url', 'client_user_agent',
                              'model_value', 'currency_code', 'minor_digits', 'customer_digest'] -%}
{#- Entries (then blocks) joined per step, and the steps before the ordered string_agg. -#}
{%- set slots = 8 -%}
{%- set steps = 3 -%}

with

lines as (

    select * from {{ ref('int_meta_capi_lines_checked') }}
    where order_id is not null

),

priced_lines as (

    select
        *,
        {#- Exact amounts, only where they cannot overflow: a line above the order's bound makes
            the order's bound fail too (a sum of non-negative terms is at least each term), and
            `bounded_orders` then drops the order's exact amounts whole. #}
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

orders as (

    select
        order_id,
        count(*) as line_count,
        {#- The line_problem of the order's first line that has one: the smallest line_number,
            zero-padded so that text order is number order (cut off again below). #}
        min(case when line_problem is not null
            then lpad(cast(line_number as {{ meta_type_text() }}), 20, '0') || line_problem end) as numbered_line_problem,
        {#- More than one customer (by user_data, not by customer_digest: two raw versions of
            a customer that normalize alike are one) or currency: the smallest and the largest
            differ. #}
        min(user_data_key) <> max(user_data_key) as has_customers_differing,
        min(currency_code) <> max(currency_code) as has_currencies_differing,
        min(event_time) as event_time,
        sum(cast(quantity as bigint)) as num_items,
        sum(exact_price * cast(quantity as bigint)) as exact_lines_value,
        {#- A bound on the order's value: an exact sum of absurd amounts would overflow the
            DECIMAL it is summed in. #}
        sum(abs(cast(price as {{ meta_type_double() }})) * abs(cast(quantity as {{ meta_type_double() }}))) as value_bound,
        {#- The event-wide fields: the first line's (line_number 1 is one line per order). #}
        {%- for column_name in first_line_columns %}
        max(case when line_number = 1 then {{ column_name }} end) as {{ column_name }},
        {%- endfor %}
        {#- The contents of an order of up to {{ slots }} lines (concat_ws skips NULLs, as
            string_agg does; none is empty). Larger orders: big_order_contents. #}
        nullif(concat_ws(','
            {%- for line_number in range(1, slots + 1) %},
            max(case when line_number = {{ line_number }} then content end)
            {%- endfor %}), '') as small_order_contents
    from content_lines
    group by order_id

),

big_orders as (

    {#- The orders with more lines than the group by above joins: those with a line numbered
        {{ slots + 1 }} (line numbers run from 1 without gaps). #}
    select order_id
    from lines
    where line_number = {{ slots + 1 }}

),

big_order_lines as (

    select
        content_lines.order_id,
        count(*) over (partition by content_lines.order_id) as line_count,
        {#- Blocks are named by the 0-based position of their first line. #}
        content_lines.line_number - 1 as block_start,
        content_lines.content as contents
    from content_lines
    inner join big_orders
        on big_orders.order_id = content_lines.order_id

),
{%- for step in range(1, steps + 1) %}
{%- set block_size = slots ** step %}
{%- set part_size = slots ** (step - 1) %}

big_order_blocks_{{ step }} as (

    {#- Blocks of {{ block_size }} lines, each from the {{ slots }} blocks of {{ part_size }} before it. #}
    select
        order_id,
        line_count,
        block_start - block_start % {{ block_size }} as block_start,
        nullif(concat_ws(','
            {%- for slot in range(slots) %},
            max(case when block_start % {{ block_size }} = {{ slot * part_size }} then contents end)
            {%- endfor %}), '') as contents
    from {{ 'big_order_lines' if step == 1 else 'big_order_blocks_' ~ (step - 1) }}
    {%- if step > 1 %}
    {#- Orders of at most {{ part_size }} lines are whole already. #}
    where line_count > {{ part_size }}
    {%- endif %}
    group by
        order_id,
        line_count,
        block_start - block_start % {{ block_size }}

),
{%- endfor %}

big_order_contents as (

    {#- Each large order from the step that leaves it one block, the largest (beyond
        {{ slots ** steps }} lines) from their blocks in order. -#}
    {%- for step in range(2, steps + 1) %}
    select
        order_id,
        contents
    from big_order_blocks_{{ step }}
    where line_count > {{ slots ** (step - 1) }} and line_count <= {{ slots ** step }}

    union all
    {% endfor %}
    select
        order_id,
        {{ meta_string_agg('contents', "','", 'block_start') }} as contents
    from big_order_blocks_{{ steps }}
    where line_count > {{ slots ** steps }}
    group by order_id

),

with_contents as (

    select
        orders.*,
        case
            when orders.line_count <= {{ slots }} then orders.small_order_contents
            else big_order_contents.contents
        end as exact_contents
    from orders
    left join big_order_contents
        on big_order_contents.order_id = orders.order_id

),

bounded_orders as (

    select
        *,
        substr(numbered_line_problem, 21) as line_problem,
        {#- Above the bound no amount is exact: the value is the model's, if any, and no line is
            listed in contents. #}
        case when value_bound <= 10 * {{ max_amount }} then exact_lines_value end as lines_value,
        case when value_bound <= 10 * {{ max_amount }} then exact_contents end as contents
    from with_contents

),

final as (

    select
        order_id,
        line_count,
        line_problem,
        has_customers_differing,
        has_currencies_differing,
        event_time,
        num_items,
        lines_value,
        value_bound,
        {%- for column_name in first_line_columns %}
        {{ column_name }},
        {%- endfor %}
        contents
    from bounded_orders

)

select * from final
