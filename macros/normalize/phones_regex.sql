{#-
    The only engine-specific SQL of the phone macros: regular expressions. Each is dispatched,
    so PostgreSQL (regexp_match, substring, regexp_replace) or Spark (regexp_extract, rlike)
    can add a `<adapter>__` version without touching meta_normalize_phones. The default is
    DuckDB's (RE2). Patterns are SQL string literals: DuckDB compiles a constant pattern once
    per query but a pattern read from a column once per row (~100 µs each), which is why
    meta_normalize_phones renders the seed's patterns as literals.
-#}

{#- True when the pattern matches all of expr. -#}
{% macro meta_phone_regex_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('meta_phone_regex_full_match')(expr, pattern)) }}
{%- endmacro %}

{% macro default__meta_phone_regex_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, {{ pattern }})
{%- endmacro %}

{#- PostgreSQL: patterns arrive as SQL literals; meta__postgres_regex_literal turns them into AREs. -#}
{% macro postgres__meta_phone_regex_full_match(expr, pattern) -%}
    ({{ expr }} ~ {{ meta__postgres_regex_literal(pattern, anchored=true) }})
{%- endmacro %}

{#- Spark: Java regexes, found anywhere (rlike), so anchored here: see meta__spark_regex_literal. -#}
{% macro spark__meta_phone_regex_full_match(expr, pattern) -%}
    ({{ expr }} rlike {{ meta__spark_regex_literal(pattern, anchored=true) }})
{%- endmacro %}


{#- True when the pattern matches somewhere in expr (anchor it with ^ or $ as needed). -#}
{% macro meta_phone_regex_contains(expr, pattern) -%}
    {{ return(adapter.dispatch('meta_phone_regex_contains')(expr, pattern)) }}
{%- endmacro %}

{% macro default__meta_phone_regex_contains(expr, pattern) -%}
    regexp_matches({{ expr }}, {{ pattern }})
{%- endmacro %}

{% macro postgres__meta_phone_regex_contains(expr, pattern) -%}
    ({{ expr }} ~ {{ meta__postgres_regex_literal(pattern) }})
{%- endmacro %}

{% macro spark__meta_phone_regex_contains(expr, pattern) -%}
    ({{ expr }} rlike {{ meta__spark_regex_literal(pattern) }})
{%- endmacro %}


{#- The first match's group `group` (0: the whole match); '' when there is no match. -#}
{% macro meta_phone_regex_extract(expr, pattern, group=0) -%}
    {{ return(adapter.dispatch('meta_phone_regex_extract')(expr, pattern, group)) }}
{%- endmacro %}

{% macro default__meta_phone_regex_extract(expr, pattern, group=0) -%}
    regexp_extract({{ expr }}, {{ pattern }}, {{ group }})
{%- endmacro %}

{#- regexp_match gives the groups of a pattern that has any, else the match: the pattern is
    wrapped in one more group so the whole match is always element 1 and group n is n + 1. -#}
{% macro postgres__meta_phone_regex_extract(expr, pattern, group=0) -%}
    coalesce((regexp_match({{ expr }}, {{ meta__postgres_regex_literal(pattern, wrapped=true) }}))[{{ group + 1 }}], '')
{%- endmacro %}

{#- Spark's regexp_extract gives '' without a match, as DuckDB's does. -#}
{% macro spark__meta_phone_regex_extract(expr, pattern, group=0) -%}
    regexp_extract({{ expr }}, {{ meta__spark_regex_literal(pattern) }}, {{ group }})
{%- endmacro %}


{#- The first match (every match with every=true) replaced; \1 in replacement is group 1. -#}
{% macro meta_phone_regex_replace(expr, pattern, replacement, every=false) -%}
    {{ return(adapter.dispatch('meta_phone_regex_replace')(expr, pattern, replacement, every)) }}
{%- endmacro %}

{% macro default__meta_phone_regex_replace(expr, pattern, replacement, every=false) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }}{{ ", 'g'" if every else "" }})
{%- endmacro %}

{% macro postgres__meta_phone_regex_replace(expr, pattern, replacement, every=false) -%}
    regexp_replace({{ expr }}, {{ meta__postgres_regex_literal(pattern) }}, {{ replacement }}{{ ", 'g'" if every else "" }})
{%- endmacro %}

{#- Spark's regexp_replace replaces every match. The project's first-match replacements are
    all of patterns that are anchored (^...) or run to the end of the text (...$, (?s)...*),
    which match once, so every match is the first. Java writes group n as $n, not \\n. -#}
{% macro spark__meta_phone_regex_replace(expr, pattern, replacement, every=false) -%}
    regexp_replace({{ expr }}, {{ meta__spark_regex_literal(pattern) }}, {{ meta__spark_replacement_literal(replacement) }})
{%- endmacro %}


{#- Computed once, not inlined: DuckDB otherwise pushes filters through the CTEs and
    evaluates their regex-heavy expressions twice (16 s -> 6 s on the test corpus). -#}
{% macro meta_phone_materialized() -%}
    {{ return(adapter.dispatch('meta_phone_materialized')()) }}
{%- endmacro %}

{% macro default__meta_phone_materialized() -%}
    materialized
{%- endmacro %}

{#- Spark has no MATERIALIZED hint for a CTE (it plans each as it sees fit). -#}
{% macro spark__meta_phone_materialized() -%}
{%- endmacro %}


{#- A pattern given as a SQL string literal (as meta_sql_string writes it) as the literal of the
    same pattern in PostgreSQL's syntax (meta__postgres_regex): wrapped=true puts the body in
    a capturing group. -#}
{% macro meta__postgres_regex_literal(literal, anchored=false, wrapped=false) -%}
    {%- set text = literal | trim -%}
    {%- if not (text.startswith("'") and text.endswith("'")) -%}
        {{ exceptions.raise_compiler_error('a phone pattern must be a SQL string literal: ' ~ text) }}
    {%- endif -%}
    {%- set pattern = meta__postgres_regex(text[1:-1] | replace("''", "'"), anchored=anchored) -%}
    {%- if wrapped -%}
        {%- set flags = modules.re.match('^\\(\\?[a-z]+\\)', pattern) -%}
        {%- set prefix = flags.group(0) if flags else '' -%}
        {%- set pattern = prefix ~ '(' ~ pattern[prefix | length:] ~ ')' -%}
    {%- endif -%}
    {{- return(meta_sql_string(pattern)) -}}
{%- endmacro %}


{#- A pattern given as a SQL string literal (as meta_sql_string writes it) for Java's regexes:
    (?d) first, so only a line feed ends a line for `.`, `^` and `$`, as in RE2 (Java's also
    end one at CR, U+0085, U+2028, U+2029); (?i) as (?iu), case-insensitive beyond ASCII as
    RE2's is; with anchored=true the whole text must match: ^(?:...)\z (Java's $ also matches
    before a final line feed). The literal is Spark's, so a backslash is written twice. -#}
{% macro meta__spark_regex_literal(literal, anchored=false) -%}
    {%- set text = literal | trim -%}
    {%- if not (text.startswith("'") and text.endswith("'")) -%}
        {{ exceptions.raise_compiler_error('a phone pattern must be a SQL string literal: ' ~ text) }}
    {%- endif -%}
    {%- set body = text[1:-1] -%}
    {%- if body.startswith('(?i)') -%}
        {%- set body = '(?iu)' ~ body[4:] -%}
    {%- endif -%}
    {%- if anchored -%}
        {%- set body = '^(?:' ~ body ~ ')\\\\z' -%}
    {%- endif -%}
    {{- return("'(?d)" ~ body ~ "'") -}}
{%- endmacro %}

{#- A replacement given as a SQL string literal, with \n group references as Java's $n, and a
    literal $ escaped. -#}
{% macro meta__spark_replacement_literal(literal) -%}
    {%- set text = literal | trim -%}
    {{- return(modules.re.sub('\\\\\\\\([0-9])', '$\\1', text | replace('$', '\\\\$'))) -}}
{%- endmacro %}
