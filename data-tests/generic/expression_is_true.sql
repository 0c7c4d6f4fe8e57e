{#-
    Fails on every row where `expression` is not true (NULL counts as a failure; guard it in
    the expression when NULL is acceptable). dbt_utils has the same test; packages are not
    available offline, and this is all we need of it.
-#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
