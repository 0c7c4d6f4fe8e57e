{#-
    Exact money arithmetic. A price arrives as a DOUBLE (revenue / quantity) or a DECIMAL; it is
    taken at its shortest text, what DuckDB and Python print (2.675, 46.050000000000004), not at
    its binary expansion (2.67499999999999982236431605997495353221893310546875): the amount the
    data shows is the amount that is rounded. 18 decimals hold any such text of an amount that
    matters (smaller fractions round to 0 in every currency); 20 integer digits hold a price
    up to meta_max_amount() times a quantity up to meta_max_quantity().
-#}
{% macro meta_exact_amount(expression) -%}
    {{ return(adapter.dispatch('meta_exact_amount')(expression)) }}
{%- endmacro %}

{% macro default__meta_exact_amount(expression) -%}
    try_cast(cast({{ expression }} as {{ meta_type_text() }}) as decimal(38, 18))
{%- endmacro %}

{#- PostgreSQL's float8 text is the shortest too (since 12), but in exponent form past 10^15
    (1e+16), which numeric reads; NaN and Infinity are numerics there, and an amount past
    10^20 does not fit: those are NULL, as DuckDB's try_cast gives, instead of an error. -#}
{% macro postgres__meta_exact_amount(expression) -%}
    {%- set text = 'cast(' ~ expression ~ ' as ' ~ meta_type_text() ~ ')' -%}
    case
        when {{ text }} ~* '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)(e[+-]?[0-9]+)?$'
            and abs(cast({{ text }} as numeric)) < 1e20
            then cast(cast({{ text }} as numeric) as decimal(38, 18))
    end
{%- endmacro %}


{#- Rounded half up (ties away from zero, as a till rounds) to the currency's decimals, a
    column: the engine's round() takes a constant number of digits only. Each branch is cast to
    one type, or the CASE would unify them to the smallest scale. -#}
{% macro meta_round_amount(amount, digits) -%}
    case {{ digits }}
        {%- for places in range(5) %}
        when {{ places }} then cast(round({{ amount }}, {{ places }}) as decimal(38, 4))
        {%- endfor %}
    end
{%- endmacro %}


{#- Bounds past which a number is no store purchase in any currency Meta takes, but a unit
    error or corrupt data: a price or an order's value above 10^12 (about a billion US dollars
    even in yen), a quantity above 10^6. -#}
{% macro meta_max_amount() %}1000000000000{% endmacro %}
{% macro meta_max_quantity() %}1000000{% endmacro %}
