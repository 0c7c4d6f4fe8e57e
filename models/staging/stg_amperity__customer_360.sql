{#- See stg_amperity__unified_itemized_transactions: orders the build after the sample seed. -#}
{%- if var('source_schema', 'amperity_sample') == 'amperity_sample' %}
-- depends_on: {{ ref('customer_360') }}
{%- endif %}

with

source as (

    select * from {{ source('amperity', 'customer_360') }}

),

renamed as (

    {#- Trimmed, blanks as NULL, otherwise untouched: normalizing for Meta (lower-casing,
        phone country codes, state codes, hashing) is the exporter's job, which also
        rejects unusable values with a reason. #}
    select
        {{ meta_clean_text('amperity_id') }} as amperity_id,
        {{ meta_clean_text('email') }} as email,
        {{ meta_clean_text('phone') }} as phone,
        {{ meta_clean_text('given_name') }} as given_name,
        {{ meta_clean_text('surname') }} as surname,
        {#- Optional profile field: an unreadable date becomes NULL rather than failing the
            whole build. #}
        try_cast(birthdate as date) as birthdate,
        {{ meta_clean_text('gender') }} as gender,
        {{ meta_clean_text('city') }} as city,
        {{ meta_clean_text('state') }} as state,
        {{ meta_clean_text('postal') }} as postal,
        {{ meta_clean_text('country') }} as country

    from source

)

select * from renamed
