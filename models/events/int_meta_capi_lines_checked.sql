{#-
    Every item line of the line model (meta_offline_events, or var meta_lines_model), with what
    its event needs, its customer's hashed user_data, its place in the order, and the first of
    Meta's line rules it breaks (line_problem, NULL when it breaks none). meta_capi_events and
    meta_capi_rejected_lines are built from it.
-#}
{{- meta_check_reference_seeds() -}}
{%- set lines_relation = ref(var('meta_lines_model', 'meta_offline_events')) -%}
{%- set columns = meta_source_columns(lines_relation, required=meta_required_line_columns(), required_one_of=['email', 'phone']) -%}
{%- set as_of_seconds = meta_epoch_seconds_of(meta_as_of()) -%}
{%- set event_time = meta_epoch_seconds('timestamp', columns.get('timestamp')) -%}

with

item_lines as (

    select * from {{ lines_relation }}

),

currencies as (

    select * from {{ ref('meta_currencies') }}

),

customers as (

    select * from {{ ref('int_meta_capi_customers_hashed') }}

),

with_currency as (

    select
        item_lines.*,
        currencies.minor_digits as meta_minor_digits
    from item_lines
    left join currencies
        on currencies.currency_code = upper(trim(cast(item_lines.{{ adapter.quote('currency') }} as {{ meta_type_text() }})))

),

lines as (

    select
        cast({{ adapter.quote('order_id') }} as {{ meta_type_text() }}) as order_id,
        cast({{ meta_line_value(columns, 'product_id') }} as {{ meta_type_text() }}) as product_id,
        {{ adapter.quote('quantity') }} as quantity,
        {{ adapter.quote('price') }} as price,
        upper(trim(cast({{ adapter.quote('currency') }} as {{ meta_type_text() }}))) as currency_code,
        meta_minor_digits as minor_digits,
        {{ event_time }} as event_time,
        {{ meta_with_default(columns, 'action_source', 'physical_store') }} as action_source,
        {{ meta_with_default(columns, 'event_name', 'Purchase') }} as event_name,
        cast({{ meta_line_value(columns, 'event_id') }} as {{ meta_type_text() }}) as event_id,
        cast({{ meta_line_value(columns, 'event_source_url') }} as {{ meta_type_text() }}) as event_source_url,
        cast({{ meta_line_value(columns, 'client_user_agent') }} as {{ meta_type_text() }}) as client_user_agent,
        {{ meta_line_value(columns, 'value', meta_type_double()) }} as model_value,
        {{ meta_customer_digest(columns) }} as customer_digest,
        {{ meta_missing_value_reason(columns) }} as missing_reason,
        {{ meta_line_rule_reason(columns, event_time, as_of_seconds, 'meta_minor_digits is not null') }} as rule_reason,
        {#- A total order of an order's lines, so the same data always gives the same event text. #}
        row_number() over (
            partition by {{ adapter.quote('order_id') }}
            order by
                {%- for column_name in ['product_id', 'timestamp', 'quantity', 'price', 'currency'] if column_name in columns %}
                {%- set sort_key = adapter.quote(column_name) %}
                {{ meta_binary_order(sort_key) if meta_is_text_type(columns[column_name]) else meta_nulls_last(sort_key) }}{{ ',' if not loop.last }}
                {%- endfor %}
        ) as line_number
    from with_currency

),

with_customers as (

    select
        lines.*,
        customers.user_data_members,
        customers.dropped_user_data,
        {%- for key in meta_match_keys() | map(attribute=0) %}
        coalesce(customers.has_{{ key }}, false) as has_{{ key }},
        {%- endfor %}
        {#- Precedence: a missing value, then no usable email or phone, then the other rules. #}
        coalesce(
            lines.missing_reason,
            case when not coalesce(customers.has_contact, false) then 'no_usable_email_or_phone' end,
            lines.rule_reason
        ) as line_problem
    from lines
    left join customers
        on customers.customer_digest = lines.customer_digest

),

final as (

    select
        *,
        {#- For the order's rules: its first line that breaks one, and a bound on its value
            (an exact sum of absurd amounts would overflow the DECIMAL it is summed in). #}
        min(case when line_problem is not null then line_number end) over (partition by order_id) as first_problem_line,
        sum(abs(cast(price as {{ meta_type_double() }})) * abs(cast(quantity as {{ meta_type_double() }}))) over (partition by order_id) as value_bound
    from with_customers

)

select * from final
