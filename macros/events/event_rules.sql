{#-
    Meta's rules for one item line of `meta_offline_events`, as SQL expressions over the line
    model's columns (their names and types known at compile time, see meta_source_columns).
    meta_capi_events applies them in this precedence: a missing required value, then no usable
    email or phone (which needs the hashed customer), then the first other rule the line
    breaks; then the rules of an order as a whole.
-#}

{% macro meta_action_sources() -%}
    {{ return(['email', 'website', 'app', 'phone_call', 'chat', 'physical_store', 'system_generated',
               'business_messaging', 'other']) }}
{%- endmacro %}

{#- The event names the replaced destination allows. -#}
{% macro meta_event_names() -%}
    {{ return(['ViewContent', 'Search', 'AddToCart', 'AddToWishlist', 'InitiateCheckout', 'AddPaymentInfo',
               'Purchase', 'Lead', 'Other']) }}
{%- endmacro %}

{#- Values every event needs; product_id too when the model has the column (a line without one
    would count in value and num_items but could not be listed in contents). -#}
{% macro meta_required_line_columns() -%}
    {{ return(['order_id', 'external_id', 'quantity', 'timestamp', 'price', 'currency']) }}
{%- endmacro %}


{#- A column of the line model, quoted, or a typed NULL where the model lacks it. -#}
{% macro meta_line_value(columns, column_name, data_type=none) -%}
    {%- if column_name in columns -%}
        {{ adapter.quote(column_name) }}
    {%- else -%}
        cast(null as {{ data_type or meta_type_text() }})
    {%- endif -%}
{%- endmacro %}


{#- The line's value of an optional text column, or `default` where absent, NULL or empty. -#}
{% macro meta_with_default(columns, column_name, default) -%}
    {%- if column_name in columns -%}
        coalesce(nullif(cast({{ adapter.quote(column_name) }} as {{ meta_type_text() }}), ''), {{ meta_sql_string(default) }})
    {%- else -%}
        {{ meta_sql_string(default) }}
    {%- endif -%}
{%- endmacro %}


{#- Unix seconds of a line's timestamp: a TIMESTAMP (naive = UTC), a TIMESTAMP WITH TIME ZONE, a
    DATE, ISO 8601 text (read as meta_to_utc_timestamp reads the source's), or Unix seconds as a
    number or digits. NULL when unreadable (the line is rejected as invalid_timestamp). -#}
{% macro meta_epoch_seconds(column_name, data_type) -%}
    {%- set value = adapter.quote(column_name) -%}
    {%- set kind = (data_type or '') | upper -%}
    {#- Type names as DuckDB, PostgreSQL (information_schema) and Spark (INT) spell them. -#}
    {%- if kind in ('TINYINT', 'SMALLINT', 'INT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT') -%}
        cast({{ value }} as bigint)
    {%- elif kind in ('FLOAT', 'DOUBLE', 'REAL', 'DOUBLE PRECISION') or kind.startswith(('DECIMAL', 'NUMERIC')) -%}
        {#- Truncated toward zero, as floor/ceil do on every engine (a cast rounds on DuckDB and
            PostgreSQL, truncates on Spark; Spark's trunc() is for dates). -#}
        case when {{ meta_is_finite('cast(' ~ value ~ ' as ' ~ meta_type_double() ~ ')') }}
            then cast(case when {{ value }} < 0 then ceil({{ value }}) else floor({{ value }}) end as bigint) end
    {%- elif meta_is_text_type(kind) -%}
        case
            when {{ meta__regexp_full_match('trim(' ~ value ~ ')', '-?[0-9]+') }} then {{ meta_try_cast_bigint('trim(' ~ value ~ ')') }}
            else {{ meta_epoch_seconds_of(meta_to_utc_timestamp(value, kind, 'UTC')) }}
        end
    {%- elif kind.startswith('TIMESTAMP') or kind == 'DATE' -%}
        {{ meta_epoch_seconds_of(meta_to_utc_timestamp(value, kind, 'UTC')) }}
    {%- else -%}
        cast(null as bigint)
    {%- endif -%}
{%- endmacro %}


{#- Whether a column type (as the adapter names it) holds text. -#}
{% macro meta_is_text_type(data_type) -%}
    {{ return(((data_type or '') | upper | trim).startswith(('VARCHAR', 'TEXT', 'STRING', 'CHAR'))) }}
{%- endmacro %}


{#- The first required value that is NULL or blank, as `missing_<column>`. -#}
{% macro meta_missing_value_reason(columns) -%}
    case
    {%- for column_name in meta_required_line_columns() + (['product_id'] if 'product_id' in columns else []) %}
        {%- set value = adapter.quote(column_name) %}
        when {{ value }} is null
            {%- if meta_is_text_type(columns.get(column_name)) %} or trim({{ value }}) = ''{% endif %}
            then 'missing_{{ column_name }}'
    {%- endfor %}
    end
{%- endmacro %}


{#- The first of Meta's other rules a line (with every required value) breaks, or NULL.
    `event_time` is the line's Unix seconds, `as_of_seconds` the moment the window ends,
    `currency_known` whether its currency is one Meta takes. -#}
{% macro meta_line_rule_reason(columns, event_time, as_of_seconds, currency_known) -%}
    {%- set action_source = meta_with_default(columns, 'action_source', 'physical_store') -%}
    {%- set event_name = meta_with_default(columns, 'event_name', 'Purchase') -%}
    case
        when {{ adapter.quote('quantity') }} <= 0 then 'quantity_not_positive'
        when {{ adapter.quote('quantity') }} > {{ meta_max_quantity() }} then 'quantity_too_large'
        {#- NaN sorts above every number, so "not finite" comes before the comparisons. #}
        when not {{ meta_is_finite('cast(' ~ adapter.quote('price') ~ ' as ' ~ meta_type_double() ~ ')') }} then 'price_not_finite'
        when {{ adapter.quote('price') }} < 0 then 'price_negative'
        when {{ adapter.quote('price') }} > {{ meta_max_amount() }} then 'price_too_large'
        when not {{ currency_known }} then 'invalid_currency'
        when {{ action_source }} not in ({{ meta_sql_list(meta_action_sources()) }}) then 'invalid_action_source'
        when {{ event_name }} not in ({{ meta_sql_list(meta_event_names()) }}) then 'invalid_event_name'
        when {{ event_time }} is null then 'invalid_timestamp'
        when {{ event_time }} > {{ as_of_seconds }} then 'timestamp_in_future'
        {#- Meta rejects an event older than 7 days (the whole request with it); it asks for
            store purchases within 62 days. #}
        when {{ event_time }} <= {{ as_of_seconds }}
            - case when {{ action_source }} = 'physical_store' then 62 else 7 end * 86400
            then 'timestamp_too_old'
        {%- if 'value' in columns %}
        when {{ adapter.quote('value') }} is not null and not {{ meta_is_finite('cast(' ~ adapter.quote('value') ~ ' as ' ~ meta_type_double() ~ ')') }} then 'value_not_finite'
        when {{ adapter.quote('value') }} > {{ meta_max_amount() }} then 'value_too_large'
        {%- endif %}
        {%- for column_name in ['client_user_agent', 'event_id', 'event_source_url'] %}
        when {{ action_source }} = 'website'
            and {% if column_name in columns %}coalesce(cast({{ adapter.quote(column_name) }} as {{ meta_type_text() }}), '') = ''{% else %}true{% endif %}
            then 'website_missing_{{ column_name }}'
        {%- endfor %}
    end
{%- endmacro %}


{% macro meta_sql_list(values) -%}
    {%- for value in values -%}{{ meta_sql_string(value) }}{{ ", " if not loop.last }}{%- endfor -%}
{%- endmacro %}
