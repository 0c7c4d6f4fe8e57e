{#-
    Fails on (warns about) every value of a list var such as `purchase_channels` that matches
    no row of `column_name` in the model, compared as the filter compares (trimmed,
    case-insensitive). A filter value that matches nothing empties the model without an
    error: dbt and the exporter would exit 0 and a scheduled job would send nothing, day after
    day. Each failure row names the var and the value as written. An empty list (no filter)
    passes.
-#}
{% test list_var_values_match(model, column_name, var_name) %}
{%- set values = meta_list_var_values(var_name) %}

with

configured as (

    {%- if values %}
    select *
    from (values
        {%- for value in values %}
        ({{ meta_sql_string(value) }}, {{ meta_sql_string(value | lower) }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as configured (value, compared_value)
    {%- else %}
    select
        cast(null as {{ meta_type_text() }}) as value,
        cast(null as {{ meta_type_text() }}) as compared_value
    where false
    {%- endif %}

),

present as (

    select distinct lower(trim({{ column_name }})) as value
    from {{ model }}
    where {{ column_name }} is not null

),

unmatched as (

    select
        {{ meta_sql_string(var_name) }} as var_name,
        configured.value,
        'matches no {{ column_name }} in the source, so it keeps no line' as problem
    from configured
    left join present
        on configured.compared_value = present.value
    where present.value is null

)

select * from unmatched

{% endtest %}
