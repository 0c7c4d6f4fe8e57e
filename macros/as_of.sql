{#-
    The moment the send window ends, as a naive UTC timestamp literal.

    Default: dbt's `run_started_at`, so every model and test of one invocation agrees (a
    `now()` in SQL would move between the models of one `dbt build`). A pinned `as_of` is
    parsed here in Python rather than in SQL because DuckDB gets offsets wrong both ways:
    `cast('..+02:00' as timestamp)` silently drops the offset, and a string without offset
    cast to timestamptz is read in the session TimeZone. Here a value without offset is UTC,
    one with an offset (or `Z`) is converted to UTC, whatever the session's TimeZone.
-#}
{% macro meta_as_of() -%}
    {%- set utc = modules.pytz.utc -%}
    {%- set raw = var('as_of', '') -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {%- set moment = run_started_at -%}
    {%- else -%}
        {#- YAML may already have parsed an unquoted value into a date or datetime. -#}
        {%- set text = (raw if raw is string else raw.isoformat()) | trim -%}
        {%- set pattern = '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$' -%}
        {%- if not modules.re.match(pattern, text) -%}
            {{ exceptions.raise_compiler_error(
                "var as_of must be an ISO 8601 date or date-time such as '2026-11-23 12:00:00' "
                ~ "(UTC) or '2026-11-23T14:00:00+02:00'; got '" ~ text ~ "'") }}
        {%- endif -%}
        {%- set moment = modules.datetime.datetime.fromisoformat(text) -%}
    {%- endif -%}
    {%- if moment.tzinfo is none -%}
        {%- set moment = moment.replace(tzinfo=utc) -%}
    {%- endif -%}
    {%- set moment = moment.astimezone(utc).replace(tzinfo=none) -%}
    cast('{{ moment.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}
