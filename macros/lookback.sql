{#-
    Whether the first send of events to the Meta dataset has completed, read from the
    exporter's state table `meta_capi.runs` in the same DuckDB file: true when it holds a
    row with `completed = true` for the dataset named by the env var META_DATASET_ID (any
    dataset when that variable is unset or empty). The exporter sets `completed` only for a
    real send (not a dry run, no test_event_code) that left nothing undelivered, so a first
    send cut short by a crash or an expired token keeps the 62-day window until a run
    completes it.

    Kept apart from meta_lookback_days() so unit tests can pin it with
    `overrides: macros: {meta_first_send_completed: true}` instead of needing a database.
    Before the exporter's first run the schema and table do not exist: that is "not yet".
-#}
{% macro meta_first_send_completed() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set runs = adapter.get_relation(database=target.get('database'), schema='meta_capi', identifier='runs') -%}
    {%- if runs is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set dataset_id = env_var('META_DATASET_ID', '') | trim -%}
    {%- set query -%}
        select count(*) > 0 as first_send_completed
        from {{ runs }}
        where completed
        {%- if dataset_id %}
            and dataset_id = {{ meta_sql_string(dataset_id) }}
        {%- endif %}
    {%- endset -%}
    {%- set result = run_query(query) -%}
    {{ return(result.columns[0].values()[0] == true) }}
{%- endmacro %}


{#-
    The send window's length in days. A positive whole number in var `lookback_days`
    overrides; `auto` (the default) follows Meta: events may be at most 7 days old, but
    physical_store transactions may be uploaded up to 62 days after the conversion, so the
    first send of physical_store events reaches back 62 days to cover the history, and every
    later send only the last 7 (the replaced destination made that switch by hand).
-#}
{% macro meta_lookback_days() -%}
    {%- set configured = var('lookback_days', 'auto') -%}
    {%- if configured is none or (configured | string | trim | lower) in ('', 'auto') -%}
        {%- if (var('action_source') | trim) == 'physical_store' and not meta_first_send_completed() -%}
            {{ return(62) }}
        {%- else -%}
            {{ return(7) }}
        {%- endif -%}
    {%- endif -%}
    {%- set text = configured | string | trim -%}
    {%- if configured is boolean or not modules.re.match('^[0-9]+$', text) or (text | int) < 1 -%}
        {{ exceptions.raise_compiler_error(
            "var lookback_days must be 'auto' or a positive whole number of days; got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text | int) }}
{%- endmacro %}
