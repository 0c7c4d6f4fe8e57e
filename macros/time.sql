{#-
    `order_datetime` as a naive UTC timestamp, whatever its type in the source, and whatever
    the session's or the machine's time zone. The window and the exporter (which reads naive
    timestamps as UTC) work in UTC, and the same purchase must give the same event_time on
    every machine. By the source column's type, known at compile time (meta_source_columns):

    - TIMESTAMP (any precision), DATE: a wall-clock time in var `source_timezone`.
    - TIMESTAMP WITH TIME ZONE: an instant. `cast(... as timestamp)` would render it in the
      session TimeZone (DuckDB takes the machine's zone by default: every event 8 hours early
      in Los Angeles), so it is converted with timezone('UTC', ...), which does not depend on it.
    - Text: ISO 8601. DuckDB's `cast('..-04:00' as timestamp)` silently drops an offset, so
      text with an offset (`Z`, `+02`, `-0400`, `-04:00`) is cast to an instant, and text
      without one (a date, or a date and time) is a wall-clock time in `source_timezone`.
      Anything else (`09/14/2026`, `2026-02-30`) is NULL: such a line is outside every send
      window, and the warn-level test `order_datetime_is_readable` on staging reports it, so
      it never vanishes unnoticed.
-#}
{% macro meta_to_utc_timestamp(column_name, data_type, source_timezone=none) -%}
    {%- set zone = (var('source_timezone', 'UTC') if source_timezone is none else source_timezone) | string | trim -%}
    {%- set kind = (data_type or '') | string | upper | trim -%}
    {%- if kind in ('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ') -%}
        {{ meta_instant_as_utc(column_name) }}
    {%- elif kind.startswith('TIMESTAMP') or kind in ('DATETIME', 'DATE') -%}
        {{ meta_wall_clock_to_utc('cast(' ~ column_name ~ ' as timestamp)', zone) }}
    {%- elif kind.startswith(('VARCHAR', 'TEXT', 'STRING', 'CHAR')) -%}
        {%- set text = 'trim(cast(' ~ column_name ~ ' as ' ~ meta_type_text() ~ '))' -%}
        case
            when {{ meta__regexp_full_match(text, '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?)?') }}
                then {{ meta_wall_clock_to_utc(meta_try_cast_timestamp(text), zone) }}
            when {{ meta__regexp_full_match(text, '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)? ?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)') }}
                then {{ meta_instant_as_utc(meta_try_cast_timestamptz(
                    meta__regexp_replace_all(meta__regexp_replace_all(text, ' ?[Zz]$', '+00:00'), ' ([+-][0-9]{2}(:?[0-9]{2})?)$', '\\1')
                )) }}
        end
    {%- elif not execute -%}
        cast(null as timestamp)
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "The source column " ~ column_name ~ " has type " ~ (kind or "unknown")
            ~ "; it must be a TIMESTAMP (read in var source_timezone), a TIMESTAMP WITH TIME ZONE "
            ~ "or ISO 8601 text.") }}
    {%- endif -%}
{%- endmacro %}


{#- A naive wall-clock timestamp in `zone` as naive UTC; in UTC it already is. -#}
{% macro meta_wall_clock_to_utc(expression, zone) -%}
    {{ return(adapter.dispatch('meta_wall_clock_to_utc')(expression, zone)) }}
{%- endmacro %}

{% macro default__meta_wall_clock_to_utc(expression, zone) -%}
    {%- if zone | upper == 'UTC' -%}
        {{ expression }}
    {%- else -%}
        {{ meta_instant_as_utc('timezone(' ~ meta_sql_string(zone) ~ ', ' ~ expression ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__meta_wall_clock_to_utc(expression, zone) -%}
    {%- if zone | upper == 'UTC' -%}
        {{ expression }}
    {%- else -%}
        to_utc_timestamp({{ expression }}, {{ meta_sql_string(zone) }})
    {%- endif -%}
{%- endmacro %}


{#- An instant (TIMESTAMP WITH TIME ZONE) as a naive UTC timestamp. Spark's TIMESTAMP is an
    instant shown in the session time zone, which the spark target sets to UTC. -#}
{% macro meta_instant_as_utc(expression) -%}
    {{ return(adapter.dispatch('meta_instant_as_utc')(expression)) }}
{%- endmacro %}

{% macro default__meta_instant_as_utc(expression) -%}
    timezone('UTC', {{ expression }})
{%- endmacro %}

{% macro spark__meta_instant_as_utc(expression) -%}
    {{ expression }}
{%- endmacro %}
