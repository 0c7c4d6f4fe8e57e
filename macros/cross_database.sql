{#-
    The few SQL spellings that differ between the engines the project runs on and that dbt's
    cross-database macros (dbt.dateadd, dbt.safe_cast, dbt.hash, ...) do not cover. Each
    dispatches: default__ is DuckDB's, postgres__ PostgreSQL's (15 and later). The rules call
    these, never an engine's own function, so one model gives the same bytes on each engine.
-#}

{#- The text type: `varchar` on DuckDB and PostgreSQL; Spark's is `string` (its `varchar` needs a
    length, and is a string with a length check). -#}
{% macro meta_type_text() -%}
    {{ return(adapter.dispatch('meta_type_text')()) }}
{%- endmacro %}

{% macro default__meta_type_text() -%}
    {{ return('varchar') }}
{%- endmacro %}

{% macro spark__meta_type_text() -%}
    {{ return('string') }}
{%- endmacro %}


{#- The 8-byte float type: DuckDB's `double`; PostgreSQL has no type of that name (and
    dbt.type_float() is a 4-byte float on DuckDB). -#}
{% macro meta_type_double() -%}
    {{ return(adapter.dispatch('meta_type_double')()) }}
{%- endmacro %}

{% macro default__meta_type_double() -%}
    {{ return('double') }}
{%- endmacro %}

{% macro postgres__meta_type_double() -%}
    {{ return('double precision') }}
{%- endmacro %}


{#- Whether a double is neither NaN nor infinite (NULL for NULL). -#}
{% macro meta_is_finite(expr) -%}
    {{ return(adapter.dispatch('meta_is_finite')(expr)) }}
{%- endmacro %}

{% macro default__meta_is_finite(expr) -%}
    isfinite({{ expr }})
{%- endmacro %}

{#- PostgreSQL's isfinite() takes dates and timestamps only; its NaN equals NaN, so a list works. -#}
{% macro postgres__meta_is_finite(expr) -%}
    ({{ expr }} not in (cast('NaN' as double precision), cast('Infinity' as double precision), cast('-Infinity' as double precision)))
{%- endmacro %}


{#- Spark's NaN equals NaN, as PostgreSQL's does: the same list, in Spark's spelling. -#}
{% macro spark__meta_is_finite(expr) -%}
    ({{ expr }} not in (double('NaN'), double('Infinity'), double('-Infinity')))
{%- endmacro %}


{#- Whole Unix seconds of a naive (UTC) timestamp, rounded down. -#}
{% macro meta_epoch_seconds_of(timestamp_expr) -%}
    {{ return(adapter.dispatch('meta_epoch_seconds_of')(timestamp_expr)) }}
{%- endmacro %}

{% macro default__meta_epoch_seconds_of(timestamp_expr) -%}
    cast(floor(epoch({{ timestamp_expr }})) as bigint)
{%- endmacro %}

{#- Spark's TIMESTAMP is an instant: its microseconds since the epoch, divided exactly (a decimal). -#}
{% macro spark__meta_epoch_seconds_of(timestamp_expr) -%}
    cast(floor(unix_micros({{ timestamp_expr }}) / 1000000.0) as bigint)
{%- endmacro %}

{#- extract(epoch) of a timestamp without time zone reads it as UTC, whatever the session's zone. -#}
{% macro postgres__meta_epoch_seconds_of(timestamp_expr) -%}
    cast(floor(extract(epoch from {{ timestamp_expr }})) as bigint)
{%- endmacro %}


{#-
    Text as a DATE or a TIMESTAMP, NULL where it is not one: DuckDB's try_cast. PostgreSQL 15
    has no cast that cannot fail (pg_input_is_valid is 16+) and a failed cast stops the whole
    query, so there the text must first have an ISO 8601 shape ('YYYY-MM-DD', then optionally
    a time 'HH:MM[:SS[.f]]' after 'T' or a space) and a real calendar date and clock time.
    DuckDB reads a few more shapes; a source with dates in them reads them as NULL on
    PostgreSQL (the warn-level data tests on staging count such rows).
-#}
{% macro meta_try_cast_date(text_expr) -%}
    {{ return(adapter.dispatch('meta_try_cast_date')(text_expr)) }}
{%- endmacro %}

{% macro default__meta_try_cast_date(text_expr) -%}
    try_cast({{ text_expr }} as date)
{%- endmacro %}

{#- A DATE or TIMESTAMP column arrives as its ISO text; its time, if any, is dropped. -#}
{% macro postgres__meta_try_cast_date(text_expr) -%}
    {%- set text = 'cast(' ~ text_expr ~ ' as ' ~ meta_type_text() ~ ')' -%}
    case when {{ meta__postgres_is_iso_date_time(text, time=true) }} then cast({{ text }} as date) end
{%- endmacro %}

{% macro meta_try_cast_timestamp(text_expr) -%}
    {{ return(adapter.dispatch('meta_try_cast_timestamp')(text_expr)) }}
{%- endmacro %}

{% macro default__meta_try_cast_timestamp(text_expr) -%}
    try_cast({{ text_expr }} as timestamp)
{%- endmacro %}

{% macro postgres__meta_try_cast_timestamp(text_expr) -%}
    case when {{ meta__postgres_is_iso_date_time(text_expr, time=true) }} then cast({{ text_expr }} as timestamp) end
{%- endmacro %}

{#- Digits (an optional '-' first) as a BIGINT, NULL when out of its range. -#}
{% macro meta_try_cast_bigint(digits_expr) -%}
    {{ return(adapter.dispatch('meta_try_cast_bigint')(digits_expr)) }}
{%- endmacro %}

{% macro default__meta_try_cast_bigint(digits_expr) -%}
    try_cast({{ digits_expr }} as bigint)
{%- endmacro %}

{#- Digits always cast to numeric, whose range then decides. -#}
{% macro postgres__meta_try_cast_bigint(digits_expr) -%}
    case when cast({{ digits_expr }} as numeric) between -9223372036854775808 and 9223372036854775807
        then cast({{ digits_expr }} as bigint) end
{%- endmacro %}

{#- Text with an offset (+HH[:MM], +HHMM) as an instant; the shape is checked as above. -#}
{#- The type of an instant: TIMESTAMP WITH TIME ZONE; Spark's TIMESTAMP is one. -#}
{% macro meta_type_instant() -%}
    {{ return(adapter.dispatch('meta_type_instant')()) }}
{%- endmacro %}

{% macro default__meta_type_instant() -%}
    {{ return('timestamptz') }}
{%- endmacro %}

{% macro spark__meta_type_instant() -%}
    {{ return('timestamp') }}
{%- endmacro %}

{% macro meta_try_cast_timestamptz(text_expr) -%}
    {{ return(adapter.dispatch('meta_try_cast_timestamptz')(text_expr)) }}
{%- endmacro %}

{% macro default__meta_try_cast_timestamptz(text_expr) -%}
    try_cast({{ text_expr }} as timestamptz)
{%- endmacro %}

{% macro postgres__meta_try_cast_timestamptz(text_expr) -%}
    case when {{ meta__postgres_is_iso_date_time(text_expr, time=true, offset=true) }} then cast({{ text_expr }} as timestamptz) end
{%- endmacro %}

{#- Whether text is an ISO 8601 date (and time, and offset, as asked) that names a real day and
    time, so casting it cannot fail. The day is checked against its month's length. -#}
{% macro meta__postgres_is_iso_date_time(text_expr, time=false, offset=false) -%}
    {%- set pattern = '^([0-9]{4})-([0-9]{2})-([0-9]{2})' -%}
    {%- if time -%}
        {%- set pattern = pattern ~ '(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\\.[0-9]{1,9})?)?)?' -%}
    {%- endif -%}
    {%- if offset -%}
        {%- set pattern = pattern ~ '[+-][0-9]{2}(?::?[0-9]{2})?' -%}
    {%- endif -%}
    {%- set parts = "regexp_match(" ~ text_expr ~ ", " ~ meta_sql_string(pattern ~ '$') ~ ")" -%}
    coalesce((
        select
            cast(date_parts[1] as integer) >= 1
            and cast(date_parts[2] as integer) between 1 and 12
            and cast(date_parts[3] as integer) between 1 and extract(day from
                make_date(cast(date_parts[1] as integer), cast(date_parts[2] as integer), 1)
                + interval '1 month' - interval '1 day')
            {%- if time %}
            and coalesce(cast(date_parts[4] as integer), 0) <= 23
            and coalesce(cast(date_parts[5] as integer), 0) <= 59
            and coalesce(cast(date_parts[6] as integer), 0) <= 59
            {%- endif %}
        from (select {{ parts }} as date_parts) as matched
        where date_parts is not null
    ), false)
{%- endmacro %}


{#- JSON text's member at a path (a list of keys), as text. -#}
{% macro meta_json_extract_text(json_expr, path) -%}
    {{ return(adapter.dispatch('meta_json_extract_text')(json_expr, path)) }}
{%- endmacro %}

{% macro default__meta_json_extract_text(json_expr, path) -%}
    json_extract_string({{ json_expr }}, {{ meta_sql_string('$.' ~ path | join('.')) }})
{%- endmacro %}

{% macro postgres__meta_json_extract_text(json_expr, path) -%}
    (cast({{ json_expr }} as json) #>> {{ meta_sql_string('{' ~ path | join(',') ~ '}') }})
{%- endmacro %}


{#- Spark: get_json_object with a JSONPath. -#}
{% macro spark__meta_json_extract_text(json_expr, path) -%}
    get_json_object({{ json_expr }}, {{ meta_sql_string('$.' ~ path | join('.')) }})
{%- endmacro %}


{#-
    Whether text is valid JSON. PostgreSQL 15 cannot tell without trying (pg_input_is_valid is
    16+, and catching a cast's error needs a plpgsql function the project would have to own),
    so there the text is cast: invalid JSON stops the query with the parser's message, which
    fails the data test that asks (as an error rather than failing rows, but a failure all
    the same). Valid JSON is true.
-#}
{% macro meta_json_valid(expr) -%}
    {{ return(adapter.dispatch('meta_json_valid')(expr)) }}
{%- endmacro %}

{% macro default__meta_json_valid(expr) -%}
    json_valid({{ expr }})
{%- endmacro %}

{% macro postgres__meta_json_valid(expr) -%}
    (json_typeof(cast({{ expr }} as json)) is not null)
{%- endmacro %}


{#- Spark 4 parses JSON text into a VARIANT; try_parse_json is NULL where it is not JSON. -#}
{% macro spark__meta_json_valid(expr) -%}
    (try_parse_json({{ expr }}) is not null)
{%- endmacro %}


{#- Text sorted by code point, as DuckDB sorts it: on PostgreSQL a database's collation
    (en_US...) would order product ids, and with them an event's contents, otherwise. -#}
{% macro meta_binary_order(expr) -%}
    {{ return(adapter.dispatch('meta_binary_order')(expr)) }}
{%- endmacro %}

{% macro default__meta_binary_order(expr) -%}
    {{ expr }}
{%- endmacro %}

{% macro postgres__meta_binary_order(expr) -%}
    {{ expr }} collate "C"
{%- endmacro %}

{#- Session settings a model build needs, run as each model's first pre-hook (dbt_project.yml);
    empty where there are none (dbt skips an empty hook). PostgreSQL: no JIT. The normalizers
    expand to a query of about 1 MB, which PostgreSQL's cost estimate sends to LLVM: compiling
    it took 60 s of the customers model's 61 s on the sample's 61 customers, and it runs in
    1.4 s without. -#}
{% macro meta_session_settings() -%}
    {{ return(adapter.dispatch('meta_session_settings')()) }}
{%- endmacro %}

{% macro default__meta_session_settings() -%}
{%- endmacro %}

{% macro postgres__meta_session_settings() -%}
    set jit = off
{%- endmacro %}

{#- Several statements as one hook. DuckDB and PostgreSQL run them as one text, separated by
    semicolons; Spark runs one statement at a time, so there all but the last run here (in
    order, when the hook is rendered, just before it runs) and the hook is the last one. -#}
{% macro meta_statements(statements) -%}
    {{ return(adapter.dispatch('meta_statements')(statements)) }}
{%- endmacro %}

{% macro default__meta_statements(statements) -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}

{% macro spark__meta_statements(statements) -%}
    {%- if execute -%}
        {%- for statement in statements[:-1] -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(statements[-1] if statements else '') }}
{%- endmacro %}


{#- Whether a table exists, asked of the warehouse (not of dbt's relation cache, which a hook
    of this very invocation may have outdated). -#}
{% macro meta_table_exists(relation) -%}
    {{ return(adapter.dispatch('meta_table_exists')(relation)) }}
{%- endmacro %}

{% macro default__meta_table_exists(relation) -%}
    {%- set found = run_query(
        "select count(*) from information_schema.tables where table_schema = "
        ~ meta_sql_string(relation.schema) ~ " and table_name = " ~ meta_sql_string(relation.identifier)) -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- Spark has no information_schema (Databricks' Unity Catalog has one; Hive's metastore not). -#}
{% macro spark__meta_table_exists(relation) -%}
    {%- set schemas = run_query('show schemas like ' ~ meta_sql_string(relation.schema)) -%}
    {%- if schemas.rows | length == 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query('show tables in ' ~ relation.schema ~ ' like ' ~ meta_sql_string(relation.identifier)) -%}
    {{ return(found.rows | length > 0) }}
{%- endmacro %}


{#- Seeds on Spark: dbt-spark's create_csv_table, with the column types of seeds/_seeds.yml
    and dbt_project.yml (written as DuckDB and PostgreSQL spell them) in Spark's spelling:
    `varchar` is `string` there (Spark's varchar needs a length). -#}
{% macro spark__create_csv_table(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}

  {% set sql %}
    create table {{ this.render() }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = column_override.get(col_name, inferred_type) -%}
            {%- set type = meta_type_text() if (type | lower | trim) == 'varchar' else type -%}
            {%- set column_name = (col_name | string) -%}
            {{ adapter.quote_seed_column(column_name, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ clustered_cols(label="clustered by") }}
    {{ location_clause() }}
    {{ comment_clause() }}
  {% endset %}

  {% call statement('_') -%}
    {{ sql }}
  {%- endcall %}

  {{ return(sql) }}
{% endmacro %}

{#- dbt-spark's `session` method pastes seed values into the SQL with Python's %, unquoted
    ('O'Connor') and with None as the text 'None': here each value is a literal of its own
    (NULL for an empty cell, text quoted by meta_sql_string). -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {%- set batch_size = get_batch_size() -%}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set types = [] -%}
  {%- for col_name in agate_table.column_names -%}
      {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
      {%- do types.append(meta_type_text() if (type | lower | trim) == 'varchar' else type) -%}
  {%- endfor -%}
  {%- set statements = [] -%}
  {%- for chunk in agate_table.rows | batch(batch_size) -%}
      {%- set sql -%}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for value in row -%}
                  {%- if value is none -%}
                    cast(null as {{ types[loop.index0] }})
                  {%- else -%}
                    cast({{ meta_sql_string(value) }} as {{ types[loop.index0] }})
                  {%- endif -%}
                  {%- if not loop.last %},{% endif -%}
              {%- endfor -%})
              {%- if not loop.last %},{% endif %}
          {% endfor %}
      {%- endset -%}
      {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
      {%- if loop.index0 == 0 -%}
          {%- do statements.append(sql) -%}
      {%- endif -%}
  {%- endfor -%}
  {{ return(statements[0] if statements else '') }}
{% endmacro %}


{#- Text joined in an order: DuckDB and PostgreSQL take the ORDER BY inside the call, Spark 4
    after it (WITHIN GROUP). NULLs are left out; NULL when nothing is left. -#}
{% macro meta_string_agg(expr, separator, order_by) -%}
    {{ return(adapter.dispatch('meta_string_agg')(expr, separator, order_by)) }}
{%- endmacro %}

{% macro default__meta_string_agg(expr, separator, order_by) -%}
    string_agg({{ expr }}, {{ separator }} order by {{ order_by }})
{%- endmacro %}

{% macro spark__meta_string_agg(expr, separator, order_by) -%}
    string_agg({{ expr }}, {{ separator }}) within group (order by {{ order_by }})
{%- endmacro %}


{#- A sort key whose NULLs come last, as DuckDB and PostgreSQL sort them ascending by default;
    Spark sorts them first. -#}
{% macro meta_nulls_last(expr) -%}
    {{ return(adapter.dispatch('meta_nulls_last')(expr)) }}
{%- endmacro %}

{% macro default__meta_nulls_last(expr) -%}
    {{ expr }}
{%- endmacro %}

{% macro spark__meta_nulls_last(expr) -%}
    {{ expr }} nulls last
{%- endmacro %}

{#- Spark compares strings by their UTF-8 bytes (collation UTF8_BINARY), which is code point
    order; its NULLs come last as elsewhere. -#}
{% macro spark__meta_binary_order(expr) -%}
    {{ meta_nulls_last(expr) }}
{%- endmacro %}


{#- dbt's cast() on Spark, with `varchar` (as the YAML of models and unit tests spells text,
    e.g. a contract's data_type) read as Spark's `string`. -#}
{% macro spark__cast(field, type) -%}
    {%- set type = meta_type_text() if (type | lower | trim) == 'varchar' else type -%}
    cast({{ field }} as {{ type }})
{%- endmacro %}


{#- dbt's escape_single_quotes on Spark (unit test fixtures are written with it): dbt-spark
    escapes the quote only, but Spark's literals read a backslash as an escape too, so a
    fixture's `b\"q` arrived as `b"q`. -#}
{% macro spark__escape_single_quotes(expression) -%}
{{ expression | replace("\\", "\\\\") | replace("'", "\\'") }}
{%- endmacro %}


{#- Spark reads an offset in the text (+02:00, +0200, +02, Z) when it casts it to its TIMESTAMP. -#}
{% macro spark__meta_try_cast_timestamptz(text_expr) -%}
    try_cast({{ text_expr }} as timestamp)
{%- endmacro %}

{% macro spark__safe_cast(field, type) -%}
    {%- set type = meta_type_text() if (type | lower | trim) == 'varchar' else type -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{#- Statistics for a table just built or seeded, run as a post-hook (dbt_project.yml). PostgreSQL
    plans the next model from them, and autovacuum gathers them only later: on reference seeds
    just loaded, a query over every code point ran for 18+ minutes instead of 36 s. -#}
{% macro meta_analyze() -%}
    {{ return(adapter.dispatch('meta_analyze')()) }}
{%- endmacro %}

{% macro default__meta_analyze() -%}
{%- endmacro %}

{% macro postgres__meta_analyze() -%}
    {%- if model.config.materialized in ['table', 'incremental', 'seed'] -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
