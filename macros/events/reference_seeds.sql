{#-
    The lookup tables the rules need (seeds/reference/: currencies, country names, phone
    metadata) are seeds, loaded by `dbt seed` or `dbt build`, not by `dbt run`. A daily `dbt run`
    on a warehouse whose reference seeds are missing, or older than the committed CSVs (after an
    upgrade regenerated them), would fail deep in the SQL or, worse, normalize with stale tables.
    So each reference seed records the checksum of the CSV it loaded (a post-hook), and the event
    models refuse to build unless every reference seed of the project is loaded as committed.
-#}

{#- The table of loaded versions, in the reference seeds' schema (no ref(): seed hooks may not). -#}
{% macro meta_reference_seed_versions() -%}
    {{ return(api.Relation.create(
        database=target.get('database'),
        schema=generate_schema_name('meta_capi_reference', none) | trim,
        identifier='meta_reference_seed_versions')) }}
{%- endmacro %}


{#- on-run-start: the table exists before any seed runs (seeds load in parallel threads, whose
    post-hooks would race to create it). -#}
{% macro meta_create_reference_seed_versions() -%}
    {%- if execute and flags.WHICH in ('seed', 'build') -%}
        {%- set table = meta_reference_seed_versions() -%}
        {{ meta_statements([
            'create schema if not exists ' ~ table.schema,
            'create table if not exists ' ~ table ~ ' (seed_name ' ~ meta_type_text() ~ ', checksum '
                ~ meta_type_text() ~ ', loaded_at timestamp)',
        ]) }}
    {%- endif -%}
{%- endmacro %}


{#- Post-hook of every reference seed: record the checksum of the CSV just loaded. -#}
{% macro meta_record_seed_version() -%}
    {{ return(adapter.dispatch('meta_record_seed_version')()) }}
{%- endmacro %}

{% macro default__meta_record_seed_version() -%}
    {%- set table = meta_reference_seed_versions() -%}
    delete from {{ table }} where seed_name = {{ meta_sql_string(model.name) }};
    {{ meta__insert_seed_version(table) }}
{%- endmacro %}

{#- Spark's parquet tables take no DELETE: every load is appended, and the latest one counts
    (meta_check_reference_seeds reads them in loaded_at order). -#}
{% macro spark__meta_record_seed_version() -%}
    {{ meta__insert_seed_version(meta_reference_seed_versions()) }}
{%- endmacro %}

{% macro meta__insert_seed_version(table) -%}
    insert into {{ table }} values (
        {{ meta_sql_string(model.name) }},
        {{ meta_sql_string(model.checksum.checksum) }},
        cast({{ meta_sql_string(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) }} as timestamp)
    )
{%- endmacro %}


{#- Stop the build with what to do when a reference seed is missing or stale in the warehouse.
    Skipped in unit tests (their refs are fixtures) and at parse time. -#}
{% macro meta_check_reference_seeds() -%}
    {%- set currencies = ref('meta_currencies') -%}
    {%- if not execute or currencies.is_cte -%}
        {{ return('') }}
    {%- endif -%}
    {%- set expected = {} -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'seed'
            and node.original_file_path.replace('\\', '/').startswith('seeds/reference/') -%}
        {%- do expected.update({node.name: node.checksum.checksum}) -%}
    {%- endfor -%}
    {%- set table = meta_reference_seed_versions() -%}
    {%- set loaded = {} -%}
    {#- Asked of the warehouse, not of dbt's relation cache: the seeds' post-hook of this very
        invocation may have created the table after the cache was filled. #}
    {%- if meta_table_exists(table) -%}
        {%- for row in run_query('select seed_name, checksum from ' ~ table ~ ' order by loaded_at').rows -%}
            {%- do loaded.update({row[0]: row[1]}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set stale = [] -%}
    {%- for name, checksum in expected.items() if loaded.get(name) != checksum -%}
        {%- do stale.append(name) -%}
    {%- endfor -%}
    {%- if stale -%}
        {{ exceptions.raise_compiler_error(
            "The reference seed" ~ ("s " if stale | length > 1 else " ") ~ stale | sort | join(', ')
            ~ (" are" if stale | length > 1 else " is") ~ " missing from the warehouse or older than seeds/reference/: "
            ~ "load them with `dbt seed --select path:seeds/reference` (or run `dbt build`), then build again.") }}
    {%- endif -%}
{%- endmacro %}
