{#-
    Every distinct customer of the line model, normalized and hashed once (Meta's user_data
    keys), kept across runs: a daily run normalizes only customers it has not seen (new ones,
    changed ones, or all of them after a rule change, see meta_normalization_version).

    Keyed by customer_digest, a digest of the raw values and the rules' version, which
    meta_capi_events computes for each line to find its customer.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ meta_drop_customers_of_other_versions(this) }}",
        post_hook="{{ meta_drop_sql_steps() }}"
    )
}}

{{- meta_check_reference_seeds() -}}
{%- set lines_relation = ref(var('meta_lines_model', 'meta_offline_events')) -%}
{%- set columns = meta_source_columns(lines_relation, required=['external_id'], required_one_of=['email', 'phone']) -%}

{#- On Spark, each CTE is built as a table of its own first (macros/sql_steps.sql). -#}
{%- call meta_sql_in_steps() -%}
with

item_lines as (

    select * from {{ lines_relation }}

),

customer_values as (

    {#- Distinct first: the digest (a SHA-256) is then computed once per customer, not per line. #}
    select distinct
        {%- for column_name in meta_customer_columns() if column_name in columns %}
        {{ adapter.quote(column_name) }}{{ ',' if not loop.last }}
        {%- endfor %}
    from item_lines

),

customers as (

    select
        {%- for column_name in meta_customer_columns() %}
        {{ meta_line_value(columns, column_name) }} as raw_{{ column_name }},
        {%- endfor %}
        {{ meta_customer_digest(columns) }} as customer_digest
    from customer_values

),

new_customers as (

    select * from customers
    {% if is_incremental() -%}
    where customer_digest not in (select customer_digest from {{ this }})
    {%- endif %}

),

trimmed as (

    {#- Each value trimmed (blank = missing); values that already are SHA-256 hashes pass
        through and are never normalized. #}
    select
        customer_digest,
        {%- for column_name in meta_customer_columns() %}
        {{ meta_trim('raw_' ~ column_name) }} as {{ column_name }},
        {{ meta_prehashed('raw_' ~ column_name) }} as prehashed_{{ column_name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from new_customers

),

with_country as (

    {{ meta_normalize_countries('trimmed', 'country') }}

),

with_country_code as (

    {#- A hashed country gives no context to phone, state and postal. #}
    select
        *,
        case when prehashed_country is null then country_alpha2 end as country_code
    from with_country

),

with_phone as (

    {{ meta_normalize_phones('with_country_code', 'phone', 'country_code') }}

),

normalized as (

    select
        customer_digest,
        {#- (key, column, normalized value), in the order Meta lists the keys. #}
        email, phone, given_name, surname, birthdate, gender, city, state, postal, country, external_id,
        prehashed_email, prehashed_phone, prehashed_given_name, prehashed_surname, prehashed_birthdate,
        prehashed_gender, prehashed_city, prehashed_state, prehashed_postal, prehashed_country,
        prehashed_external_id,
        {{ meta_normalize_email('email') }} as normalized_email,
        phone_e164 as normalized_phone,
        {{ meta_normalize_name('given_name') }} as normalized_given_name,
        {{ meta_normalize_name('surname') }} as normalized_surname,
        {{ meta_normalize_birthdate('birthdate') }} as normalized_birthdate,
        {{ meta_normalize_gender('gender') }} as normalized_gender,
        {{ meta_normalize_city('city') }} as normalized_city,
        {{ meta_normalize_state('state', 'country_code') }} as normalized_state,
        {{ meta_normalize_postal('postal', 'country_code') }} as normalized_postal,
        country_code as normalized_country,
        {{ meta_normalize_external_id('external_id') }} as normalized_external_id
    from with_phone

),

hashed as (

    select
        customer_digest,
        {%- for key, column_name, reason in meta_match_keys() %}
        coalesce(prehashed_{{ column_name }}, {{ meta_sha256('normalized_' ~ column_name) }}) as {{ key }},
        {#- Given but unusable: counted per key and reason in the run report. #}
        case
            when {{ column_name }} is not null and prehashed_{{ column_name }} is null
                and normalized_{{ column_name }} is null then '{{ key }}:{{ reason }}'
        end as dropped_{{ key }}{{ ',' if not loop.last }}
        {%- endfor %}
    from normalized

),

final as (

    select
        customer_digest,
        {#- The user_data members, keys sorted as the event's JSON sorts them. #}
        concat_ws(','
            {%- for key in meta_match_keys() | map(attribute=0) | sort %},
            case when {{ key }} is not null then '"{{ key }}":"' || {{ key }} || '"' end
            {%- endfor %}
        ) as user_data_members,
        (em is not null or ph is not null) as has_contact,
        {%- for key, column_name, reason in meta_match_keys() %}
        ({{ key }} is not null) as has_{{ key }},
        {%- endfor %}
        nullif(concat_ws(','
            {%- for key, column_name, reason in meta_match_keys() %},
            dropped_{{ key }}
            {%- endfor %}
        ), '') as dropped_user_data,
        {{ meta_sql_string(meta_normalization_version()) }} as normalization_version
    from hashed

)

select * from final
{%- endcall %}
