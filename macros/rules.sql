{#-
    The send window: `as_of - lookback_days < column <= as_of`. The lower bound is exclusive
    so a window of N days never holds an event N days old (Meta rejects the whole request
    for an event older than 7 days); the upper bound drops future orders (Meta rejects those
    too). `as_of` and `lookback_days` default to this run's values; the window data test
    passes the values the model recorded, so `dbt test` run later (or after a first send
    narrowed the window) checks the window the model was built with.
-#}
{% macro meta_in_send_window(column_name, as_of=none, lookback_days=none) -%}
    {%- set as_of = meta_as_of() if as_of is none else as_of -%}
    {%- set lookback_days = meta_lookback_days() if lookback_days is none else lookback_days -%}
    ({{ column_name }} > {{ dbt.dateadd('day', '-1 * cast(' ~ lookback_days ~ ' as integer)', as_of) }}
        and {{ column_name }} <= {{ as_of }})
{%- endmacro %}


{#-
    Cancellations and returns are lines of their own with the flag true; they are never sent
    as purchases. A NULL flag means "unknown", which in practice is a plain sale: keep it.
-#}
{% macro meta_is_not_cancellation_or_return(is_cancellation='is_cancellation', is_return='is_return') -%}
    (coalesce({{ is_cancellation }}, false) = false and coalesce({{ is_return }}, false) = false)
{%- endmacro %}


{#-
    Filter on a list var such as `purchase_channels`: an empty list (the default) keeps every
    line; otherwise a line is kept when its value, trimmed and lower-cased, is in the list
    (compared the same way), so analysts need not know how the source capitalizes 'Store'.
    A NULL value never matches a non-empty list.
-#}
{% macro meta_matches_list_var(column_name, var_name) -%}
    {%- set values = meta_list_var_values(var_name) -%}
    {%- if values | length == 0 -%}
        true
    {%- else -%}
        (lower(trim({{ column_name }})) in (
            {%- for value in values -%}
                {{ meta_sql_string(value | lower) }}{{ ", " if not loop.last }}
            {%- endfor -%}
        ))
    {%- endif -%}
{%- endmacro %}


{#-
    The values of a list var (`purchase_channels`, `purchase_brands`), trimmed, blanks
    dropped, as written (the filter lower-cases them; the check that every value matches some
    line names them as the analyst wrote them). A comma-separated string works too (handy on
    the command line); NULL is the empty list.
-#}
{% macro meta_list_var_values(var_name) -%}
    {%- set configured = var(var_name, []) -%}
    {%- if configured is none -%}
        {%- set configured = [] -%}
    {%- elif configured is string -%}
        {%- set configured = configured.split(',') -%}
    {%- elif configured is not iterable or configured is mapping -%}
        {%- set configured = [configured] -%}
    {%- endif -%}
    {%- set values = [] -%}
    {%- for value in configured -%}
        {%- if (value | string | trim) != '' -%}
            {%- do values.append(value | string | trim) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(values) }}
{%- endmacro %}
