{#-
    The version of the normalization rules (macros/normalize/). It is part of every customer's
    digest, so changing a rule and bumping this rehashes every customer on the next run, and
    int_meta_capi_customers_hashed drops the rows of other versions.
-#}
{% macro meta_normalization_version() %}2026-11-30.1{% endmacro %}


{#- The customer columns of a line, in the order Meta lists the keys they become. -#}
{% macro meta_customer_columns() -%}
    {{ return(['external_id', 'email', 'phone', 'given_name', 'surname', 'birthdate', 'gender', 'city', 'state',
               'postal', 'country']) }}
{%- endmacro %}


{#- A digest of a line's raw customer values and the rules' version: the key of the hashed
    customers table. Each value is written with its length (and NULL apart), so no two
    different customers can give the same text. -#}
{% macro meta_customer_digest(columns) -%}
    {%- set parts = [meta_sql_string(meta_normalization_version())] -%}
    {%- for column_name in meta_customer_columns() -%}
        {%- set text = 'cast(' ~ meta_line_value(columns, column_name) ~ ' as ' ~ meta_type_text() ~ ')' -%}
        {%- do parts.append("coalesce(cast(length(" ~ text ~ ") as " ~ meta_type_text() ~ ") || ':' || " ~ text ~ ", '-')") -%}
    {%- endfor -%}
    {{ meta_sha256("concat_ws('|', " ~ parts | join(', ') ~ ")") }}
{%- endmacro %}


{#- Meta's user_data keys this project sends (match keys), in the order Meta lists them: (key,
    the line model's column, why a given value was unusable). -#}
{% macro meta_match_keys() -%}
    {{ return([
        ('em', 'email', 'not_an_email'),
        ('ph', 'phone', 'not_a_valid_number'),
        ('fn', 'given_name', 'no_letters'),
        ('ln', 'surname', 'no_letters'),
        ('db', 'birthdate', 'not_a_date'),
        ('ge', 'gender', 'not_f_or_m'),
        ('ct', 'city', 'no_letters'),
        ('st', 'state', 'not_a_state'),
        ('zp', 'postal', 'not_a_postal_code'),
        ('country', 'country', 'not_recognized'),
        ('external_id', 'external_id', 'blank'),
    ]) }}
{%- endmacro %}


{#- Pre-hook of int_meta_capi_customers_hashed: on an incremental run, the customers hashed
    under another normalization version go (their digests no longer match any line). -#}
{% macro meta_drop_customers_of_other_versions(relation) -%}
    {{ return(adapter.dispatch('meta_drop_customers_of_other_versions')(relation)) }}
{%- endmacro %}

{% macro default__meta_drop_customers_of_other_versions(relation) -%}
    {%- if is_incremental() -%}
        delete from {{ relation }} where normalization_version <> {{ meta_sql_string(meta_normalization_version()) }}
    {%- endif -%}
{%- endmacro %}

{#- Spark's parquet tables take no DELETE, and a table cannot be overwritten from itself: when
    there are such rows, the current version's rows are copied aside and written back. -#}
{% macro spark__meta_drop_customers_of_other_versions(relation) -%}
    {%- if execute and is_incremental() -%}
        {%- set other_versions = "normalization_version <> " ~ meta_sql_string(meta_normalization_version()) -%}
        {%- set stale = run_query("select count(*) from " ~ relation ~ " where " ~ other_versions).columns[0].values()[0] -%}
        {%- if stale > 0 -%}
            {%- set kept = relation.incorporate(path={"identifier": relation.identifier ~ "__meta_current_version"}) -%}
            {%- do run_query("drop table if exists " ~ kept) -%}
            {%- do run_query("create table " ~ kept ~ " using parquet as select * from " ~ relation ~ " where not (" ~ other_versions ~ ")") -%}
            {%- do run_query("insert overwrite table " ~ relation ~ " select * from " ~ kept) -%}
            {%- do run_query("drop table " ~ kept) -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
