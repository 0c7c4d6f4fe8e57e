{#- See stg_amperity__unified_itemized_transactions: orders the build after the sample seed. -#}
{%- if var('source_schema', 'amperity_sample') == 'amperity_sample' %}
-- depends_on: {{ ref('customer_360') }}
{%- endif %}

{#- Required: amperity_id and at least one of email / phone; every other column is optional
    and absent means NULL (see meta_source_columns). -#}
{%- set source_relation = source('amperity', 'customer_360') -%}
{%- set columns = meta_source_columns(source_relation, required=['amperity_id'], required_one_of=['email', 'phone']) %}

with

source as (

    select * from {{ source_relation }}

),

renamed as (

    {#- Trimmed, blanks as NULL, otherwise untouched: normalizing for Meta (lower-casing,
        phone country codes, state codes, hashing) is the exporter's job, which also
        rejects unusable values with a reason. #}
    select
        {{ meta_clean_text('amperity_id') }} as amperity_id,
        {{ meta_clean_text(meta_column_or_null(columns, 'email', meta_type_text())) }} as email,
        {{ meta_clean_text(meta_column_or_null(columns, 'phone', meta_type_text())) }} as phone,
        {{ meta_clean_text(meta_column_or_null(columns, 'given_name', meta_type_text())) }} as given_name,
        {{ meta_clean_text(meta_column_or_null(columns, 'surname', meta_type_text())) }} as surname,
        {#- Optional profile field: an unreadable date becomes NULL rather than failing the
            whole build. #}
        {{ meta_try_cast_date(meta_column_or_null(columns, 'birthdate', 'date')) }} as birthdate,
        {{ meta_clean_text(meta_column_or_null(columns, 'gender', meta_type_text())) }} as gender,
        {{ meta_clean_text(meta_column_or_null(columns, 'city', meta_type_text())) }} as city,
        {{ meta_clean_text(meta_column_or_null(columns, 'state', meta_type_text())) }} as state,
        {{ meta_clean_text(meta_column_or_null(columns, 'postal', meta_type_text())) }} as postal,
        {{ meta_clean_text(meta_column_or_null(columns, 'country', meta_type_text())) }} as country

    from source

)

select * from renamed
