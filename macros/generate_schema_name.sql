{#-
    dbt's default appends a custom schema to the target schema (`main_amperity_sample`). The
    sample seeds set `+schema: amperity_sample` and the `amperity` source reads that exact
    schema (var `source_schema`), so a custom schema is used verbatim; nodes without one go
    to the target schema (`main`), where the exporter reads `meta_offline_events`.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
