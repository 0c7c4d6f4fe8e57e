{#-
    Fails on rows whose `column_name` is outside the send window, checked with the same macro
    the model filters with (meta_in_send_window). With `as_of_column` and
    `lookback_days_column` it checks the window each row records it was built with, so the
    test still holds when `dbt test` runs after `dbt run` (later, or after the first send
    narrowed the automatic window); without them it checks this run's window.
-#}
{% test in_send_window(model, column_name, as_of_column=none, lookback_days_column=none) %}

select *
from {{ model }}
where not coalesce(
    {{ meta_in_send_window(column_name, as_of=as_of_column, lookback_days=lookback_days_column) }},
    false
)

{% endtest %}
