{#-
    Every item line of the line model (meta_offline_events, or var meta_lines_model), with what
    its event needs, its customer's key (customer_digest), its place in the order, and the first
    of Meta's line rules it breaks (line_problem, NULL when it breaks none). meta_capi_events and
    meta_capi_rejected_lines are built from it.

    Kept narrow on purpose: a customer's hashed user_data (~700 bytes) is joined once per order
    in meta_capi_events, not carried on every line, and the order-wide figures (first problem
    line, value bound) are computed in that model's one pass over the lines: wide lines and a
    second window over them made this model spill gigabytes at 1M lines and fail at 10M.
-#}
{{- meta_check_reference_seeds() -}}
{%- set lines_relation = ref(var('meta_lines_model', 'meta_offline_events')) -%}
{%- set columns = meta_source_columns(lines_relation, required=meta_required_line_columns(), required_one_of=['email', 'phone']) -%}
{%- set as_of_seconds = meta_epoch_seconds_of(meta_as_of()) -%}
{%- set event_time = meta_epoch_seconds('timestamp', columns.get('timestamp')) -%}
{%- set sort_columns = [] -%}
{%- for column_name in ['product_id', 'timestamp', 'quantity', 'price', 'currency'] if column_name in columns -%}
    {%- do sort_columns.append(column_name) -%}
{%- endfor -%}

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

customer_keys as (

    {#- What a line needs of its customer, a few bytes, not the ~700 of its user_data: whether
        it can be sent at all, and a short digest of its user_data, by which meta_capi_events
        tells whether an order's lines belong to one person (two raw versions of a customer
        that normalize alike are one). md5 is enough: it only compares one order's customers. #}
    select
        customer_digest,
        has_contact,
        md5(user_data_members) as user_data_key
    from customers

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
        {#- The raw values the order of the lines is decided on. #}
        {{ adapter.quote('order_id') }} as sort_order_id,
        {%- for column_name in sort_columns %}
        {{ adapter.quote(column_name) }} as sort_{{ column_name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from with_currency

),

numbered_lines as (

    {#- Numbered once the lines are narrow: the window sorts these columns, not the line
        model's customer values. A total order of an order's lines, so the same data always
        gives the same event text. #}
    select
        *,
        row_number() over (
            partition by sort_order_id
            order by
                {%- for column_name in sort_columns %}
                {%- set sort_key = 'sort_' ~ column_name %}
                {{ meta_binary_order(sort_key) if meta_is_text_type(columns[column_name]) else meta_nulls_last(sort_key) }}{{ ',' if not loop.last }}
                {%- endfor %}
        ) as line_number
    from lines

),

with_customers as (

    select
        numbered_lines.order_id,
        numbered_lines.product_id,
        numbered_lines.quantity,
        numbered_lines.price,
        numbered_lines.currency_code,
        numbered_lines.minor_digits,
        numbered_lines.event_time,
        numbered_lines.action_source,
        numbered_lines.event_name,
        numbered_lines.event_id,
        numbered_lines.event_source_url,
        numbered_lines.client_user_agent,
        numbered_lines.model_value,
        numbered_lines.customer_digest,
        numbered_lines.missing_reason,
        numbered_lines.rule_reason,
        numbered_lines.line_number,
        customer_keys.user_data_key,
        {#- Precedence: a missing value, then no usable email or phone, then the other rules. #}
        coalesce(
            numbered_lines.missing_reason,
            case when not coalesce(customer_keys.has_contact, false) then 'no_usable_email_or_phone' end,
            numbered_lines.rule_reason
        ) as line_problem
    from numbered_lines
    left join customer_keys
        on customer_keys.customer_digest = numbered_lines.customer_digest

),

final as (

    select * from with_customers

)

select * from final
