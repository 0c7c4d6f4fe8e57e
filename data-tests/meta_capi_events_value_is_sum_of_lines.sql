{#-
    Every sendable event's value is the sum of price x quantity of its order's lines (or the
    line model's `value` column, when it has one), rounded to its currency's decimals. Read
    back from the payload's JSON, so this checks the text Meta receives, computed another way
    than the model computes it.
-#}
{%- set lines_relation = ref(var('meta_lines_model', 'meta_offline_events')) -%}
{%- set columns = meta_source_columns(lines_relation, required=meta_required_line_columns()) -%}

with

events as (

    select
        order_id,
        cast({{ meta_json_extract_text('payload', ['custom_data', 'value']) }} as decimal(38, 4)) as sent_value,
        {{ meta_json_extract_text('payload', ['custom_data', 'currency']) }} as currency_code
    from {{ ref('meta_capi_events') }}
    where reject_reason is null

),

currencies as (

    select * from {{ ref('meta_currencies') }}

),

lines as (

    select
        cast(order_id as {{ meta_type_text() }}) as order_id,
        {%- if 'value' in columns %}
        max(cast(cast(value as {{ meta_type_text() }}) as decimal(38, 18))) as lines_value
        {%- else %}
        sum(cast(cast(price as {{ meta_type_text() }}) as decimal(38, 18)) * quantity) as lines_value
        {%- endif %}
    from {{ lines_relation }}
    group by 1

),

final as (

    select events.*, lines.lines_value, currencies.minor_digits
    from events
    left join lines on lines.order_id = events.order_id
    left join currencies on currencies.currency_code = events.currency_code
    where lines.lines_value is null
        or abs(events.sent_value - lines.lines_value) > 0.5 * power(10, -currencies.minor_digits)

)

select * from final
