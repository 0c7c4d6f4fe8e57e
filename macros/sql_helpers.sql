{#- Vars and env vars end up inside SQL text: quote them as literals, never paste them raw. -#}
{% macro meta_sql_string(value) -%}
    {{ return(adapter.dispatch('meta_sql_string')(value)) }}
{%- endmacro %}

{% macro default__meta_sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{#- Spark's string literals take backslash escapes ('\n' is a line break, '\\' one backslash),
    and two quotes ('It''s') are two literals run together ('Its'): a backslash and a quote are
    each escaped with a backslash. So a regex written for DuckDB ('\.') reaches Spark as written. -#}
{% macro spark__meta_sql_string(value) -%}
    '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}


{#-
    Staging's one text rule: trim surrounding whitespace (spaces, tabs, line breaks) and turn
    blank strings into NULL, so "no value" has a single spelling downstream and the contact
    rule (`email is not null or phone is not null`) cannot be fooled by '   '.
-#}
{% macro meta_clean_text(column_name) -%}
    {{ return(adapter.dispatch('meta_clean_text')(column_name)) }}
{%- endmacro %}

{% macro default__meta_clean_text(column_name) -%}
    nullif(trim(cast({{ column_name }} as {{ meta_type_text() }}), ' ' || chr(9) || chr(10) || chr(13)), '')
{%- endmacro %}

{#- Spark's trim(a, b) trims the characters of a from b: the standard spelling says which is which. -#}
{% macro spark__meta_clean_text(column_name) -%}
    nullif(trim(both ' ' || chr(9) || chr(10) || chr(13) from cast({{ column_name }} as string)), '')
{%- endmacro %}
