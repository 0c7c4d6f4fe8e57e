{#- Fails on rows where every one of `column_names` is NULL or blank. -#}
{% test at_least_one_present(model, column_names) %}

select *
from {{ model }}
where
    {%- for column_name in column_names %}
    nullif(trim(cast({{ column_name }} as {{ meta_type_text() }})), '') is null{{ " and" if not loop.last }}
    {%- endfor %}

{% endtest %}
