{#-
    JSON text written in SQL, byte for byte as Python's json.dumps(..., ensure_ascii=False,
    separators=(',', ':'), sort_keys=True) writes it: the event payload is built here, and its
    SHA-256 decides whether Meta already has it, so a single differing byte would resend every
    event (or a differing rule would send something else than the tests check).
-#}

{#- A JSON string: backslash and quote escaped, control characters as \b \f \n \r \t or a
    lower-case \u00xx, everything else (non-ASCII included) as is. -#}
{% macro meta_json_string(expression) -%}
    {{ return(adapter.dispatch('meta_json_string')(expression)) }}
{%- endmacro %}

{% macro default__meta_json_string(expression) -%}
    {{ meta__json_string(expression, first_code=0) }}
{%- endmacro %}

{#- PostgreSQL text cannot hold U+0000 (and chr(0) is an error): its escape is left out. -#}
{% macro postgres__meta_json_string(expression) -%}
    {{ meta__json_string(expression, first_code=1) }}
{%- endmacro %}

{#- Spark: the same replacements, with its string literals (a backslash written twice). -#}
{% macro spark__meta_json_string(expression) -%}
    {%- set short = {8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r'} -%}
    {%- set ns = namespace(sql="replace(replace(cast(" ~ expression ~ " as string), " ~ meta_sql_string('\\') ~ ", "
        ~ meta_sql_string('\\\\') ~ "), '\"', " ~ meta_sql_string('\\"') ~ ")") -%}
    {%- for code in range(0, 32) -%}
        {%- set ns.sql = "replace(" ~ ns.sql ~ ", chr(" ~ code ~ "), " ~ meta_sql_string(short.get(code, '\\u%04x' % code)) ~ ")" -%}
    {%- endfor -%}
    ('"' || {{ ns.sql }} || '"')
{%- endmacro %}

{% macro meta__json_string(expression, first_code) -%}
    {%- set text = 'cast(' ~ expression ~ ' as ' ~ meta_type_text() ~ ')' -%}
    {%- set short = {8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r'} -%}
    {%- set ns = namespace(sql="replace(replace(" ~ text ~ ", '\\', '\\\\'), '\"', '\\\"')") -%}
    {%- for code in range(first_code, 32) -%}
        {%- set escaped = short.get(code, '\\u%04x' % code) -%}
        {%- set ns.sql = "replace(" ~ ns.sql ~ ", chr(" ~ code ~ "), '" ~ escaped ~ "')" -%}
    {%- endfor -%}
    {#- Most text needs no escape: one regex test skips the chain of replace() calls, which is
        7x slower than the test on a million product ids. #}
    {%- set needs_no_escape = '[^\\\\"\\x{%x}-\\x{1f}]*' % first_code -%}
    (case when {{ meta__regexp_full_match(text, needs_no_escape) }} then '"' || {{ text }} || '"'
        else '"' || {{ ns.sql }} || '"' end)
{%- endmacro %}


{#- A rounded DECIMAL amount as the JSON number Python writes for float(amount): its digits
    without trailing zeros, and `.0` when nothing is left after the point (46.05, 10.0,
    1500.0). Amounts are below 10^12 with at most 4 decimals, at most 16 significant digits,
    which the shortest text of the nearest double reproduces. -#}
{% macro meta_json_amount(decimal_expression) -%}
    {{ return(adapter.dispatch('meta_json_amount')(decimal_expression)) }}
{%- endmacro %}

{% macro default__meta_json_amount(decimal_expression) -%}
    {%- set text = 'cast(' ~ decimal_expression ~ ' as ' ~ meta_type_text() ~ ')' -%}
    {%- set trimmed = "case when strpos(" ~ text ~ ", '.') > 0 then rtrim(rtrim(" ~ text ~ ", '0'), '.') else " ~ text ~ " end" -%}
    case when strpos({{ trimmed }}, '.') > 0 then {{ trimmed }} else {{ trimmed }} || '.0' end
{%- endmacro %}


{#- Spark has no strpos, and its rtrim(a, b) trims the characters of a from b. -#}
{% macro spark__meta_json_amount(decimal_expression) -%}
    {%- set text = 'cast(' ~ decimal_expression ~ ' as string)' -%}
    {%- set trimmed = "case when instr(" ~ text ~ ", '.') > 0 then trim(trailing '.' from trim(trailing '0' from " ~ text ~ ")) else " ~ text ~ " end" -%}
    case when instr({{ trimmed }}, '.') > 0 then {{ trimmed }} else {{ trimmed }} || '.0' end
{%- endmacro %}
