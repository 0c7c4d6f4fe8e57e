{#-
    A model's query run as steps, where an engine cannot plan it whole. DuckDB and PostgreSQL
    run the query as written (default__: the text unchanged). On Spark each CTE of the query
    (nested ones too, in the order they close) is first written to a parquet table of its own,
    `<model>__step_<cte>`, read by the later steps and the final select in its place; the
    model's post-hook meta_drop_sql_steps() drops them once the model is built.

    Why: Catalyst optimizes one query as one tree. int_meta_capi_customers_hashed (about 1 MB of
    SQL: the phone rules dispatched per region, the text normalizers' character classes) did
    not get through its optimizer in 8+ minutes and 4 GB: pushing each filter down through the
    CTEs (PushPredicateThroughNonJoin) substitutes a column by its expression at every place it
    is used, and the phone rules use each column once per region, so the predicate grew with
    every CTE it went through. A step is planned alone, over a table: ~1-8 s each.

    The steps are created when the model is rendered (run_query), so `dbt compile` creates them
    too (and leaves them: the next build replaces them). Every CTE name of the query must be
    unique, and a CTE is referred to only after `from` or `join`.
-#}
{#- Called with the query as its body: {% call meta_sql_in_steps() %} with ... select ... {% endcall %}. -#}
{% macro meta_sql_in_steps() -%}
    {{ return(adapter.dispatch('meta_sql_in_steps')(caller())) }}
{%- endmacro %}

{% macro default__meta_sql_in_steps(sql) -%}
    {{ return(sql) }}
{%- endmacro %}

{% macro spark__meta_sql_in_steps(sql) -%}
    {%- if not execute -%}
        {{ return(sql) }}
    {%- endif -%}
    {%- set steps, final = meta__sql_steps(sql) -%}
    {%- set names = steps | map(attribute=0) | list -%}
    {%- for name, body in steps -%}
        {%- set table = meta__sql_step_table(name) -%}
        {%- do run_query('drop table if exists ' ~ table) -%}
        {%- do run_query('create table ' ~ table ~ ' using parquet as ' ~ meta__sql_step_references(body, names)) -%}
    {%- endfor -%}
    {{ return(meta__sql_step_references(final, names)) }}
{%- endmacro %}

{#- The table a step is written to. -#}
{% macro meta__sql_step_table(name) -%}
    {{ return(this.schema ~ '.' ~ this.identifier ~ '__step_' ~ name) }}
{%- endmacro %}

{#-
    ([(cte name, its select)], the final select) of a query: each CTE, nested ones included, in
    the order its text closes (so a step comes after every step it reads), its select being its
    body without the CTEs nested in it. String literals (Spark's: backslash escapes) are skipped.
-#}
{% macro meta__sql_steps(sql) -%}
    {%- set token = modules.re.compile("(?is)'(?:[^'\\\\]|\\\\.)*'|(?:\\bwith\\b|,)\\s*(\\w+)\\s+as\\s*\\(|\\(|\\)") -%}
    {%- set stack = [] -%}
    {%- set ctes = [] -%}
    {%- for match in token.finditer(sql) -%}
        {%- set text = match.group(0) -%}
        {%- if text.startswith("'") -%}
        {%- elif match.group(1) -%}
            {%- do stack.append((match.group(1), match.end())) -%}
        {%- elif text == '(' -%}
            {%- do stack.append((none, match.end())) -%}
        {%- else -%}
            {%- set opened = stack.pop() -%}
            {%- if opened[0] is not none -%}
                {%- do ctes.append({'name': opened[0], 'start': opened[1], 'end': match.start(), 'depth': stack | length}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if stack or not ctes -%}
        {{ exceptions.raise_compiler_error('meta_sql_in_steps: cannot read the CTEs of ' ~ this) }}
    {%- endif -%}
    {%- set names = ctes | map(attribute='name') | list -%}
    {%- if names | unique | list | length != names | length -%}
        {{ exceptions.raise_compiler_error('meta_sql_in_steps: CTE names repeat in ' ~ this ~ ': ' ~ names | join(', ')) }}
    {%- endif -%}
    {%- set steps = [] -%}
    {%- for cte in ctes -%}
        {%- set ns = namespace(body_start=cte.start) -%}
        {%- for inner in ctes if inner.start > cte.start and inner.end < cte.end -%}
            {%- set ns.body_start = [ns.body_start, inner.end + 1] | max -%}
        {%- endfor -%}
        {%- do steps.append((cte.name, sql[ns.body_start:cte.end])) -%}
    {%- endfor -%}
    {%- set last_top = ctes | selectattr('depth', 'equalto', 0) | map(attribute='end') | max -%}
    {{ return((steps, sql[last_top + 1:])) }}
{%- endmacro %}

{#- A step's text with each CTE it reads (after `from` or `join`, not `is distinct from`) as its table. -#}
{% macro meta__sql_step_references(text, names) -%}
    {%- set prefix = this.schema ~ '.' ~ this.identifier ~ '__step_' -%}
    {%- set reference = "(?i)(?<!distinct )\\b(from|join)(\\s+)(" ~ (names | join('|')) ~ ")\\b" -%}
    {%- set text = modules.re.sub(reference ~ "(\\s+as\\b)", "\\1\\2" ~ prefix ~ "\\3\\4", text) -%}
    {{ return(modules.re.sub(reference ~ "(?!\\s+as\\b)", "\\1\\2" ~ prefix ~ "\\3 as \\3", text)) }}
{%- endmacro %}


{#- Post-hook of a model built with meta_sql_in_steps: its step tables go (Spark); nothing elsewhere. -#}
{% macro meta_drop_sql_steps() -%}
    {{ return(adapter.dispatch('meta_drop_sql_steps')()) }}
{%- endmacro %}

{% macro default__meta_drop_sql_steps() -%}
{%- endmacro %}

{% macro spark__meta_drop_sql_steps() -%}
    {%- if execute -%}
        {%- set found = run_query('show tables in ' ~ this.schema ~ " like '" ~ this.identifier ~ "__step_*'") -%}
        {%- for row in found.rows -%}
            {%- do run_query('drop table if exists ' ~ this.schema ~ '.' ~ row['tableName']) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
