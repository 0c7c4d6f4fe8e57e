{#-
    on-run-end: record, in the warehouse the models were built in, each model dbt tried to
    build in this invocation and how it ended. target/run_results.json holds only the latest
    command, so after a failed `dbt run` a later `dbt test` that passes on the old table would
    hide the failure; this log does not, and the exporter refuses a model whose latest build
    attempt failed. It lives beside the exporter's state (schema meta_capi) and is only ever
    appended to.
-#}
{% macro meta_record_model_builds(results) -%}
    {%- set attempts = [] -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- for result in results if result.node.resource_type == 'model' -%}
            {%- do attempts.append(result) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if attempts -%}
        {%- set create_table -%}
        create table if not exists meta_capi.dbt_model_builds (
            invocation_id {{ meta_type_text() }} not null,
            unique_id {{ meta_type_text() }} not null,
            status {{ meta_type_text() }} not null,
            recorded_at timestamp not null
        )
        {%- endset -%}
        {%- set insert -%}
        insert into meta_capi.dbt_model_builds (invocation_id, unique_id, status, recorded_at) values
        {%- for result in attempts %}
            (
                {{ meta_sql_string(invocation_id) }},
                {{ meta_sql_string(result.node.unique_id) }},
                {{ meta_sql_string(result.status | string) }},
                cast({{ meta_sql_string(run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f')) }} as timestamp)
            ){{ "," if not loop.last }}
        {%- endfor %}
        {%- endset -%}
        {{ meta_statements(['create schema if not exists meta_capi', create_table, insert]) }}
    {%- endif -%}
{%- endmacro %}
