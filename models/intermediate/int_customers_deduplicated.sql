with

customers as (

    select * from {{ ref('stg_amperity__customer_360') }}

),

ranked as (

    {#- customer_360 should hold one row per amperity_id (a `warn` test on staging says when
        it does not). A duplicate must not fan out item lines into duplicate events, so keep
        one row per customer: preferably one with contact data, then the most complete,
        then a fixed order over every column so reruns pick the same row. #}
    select
        *,
        row_number() over (
            partition by amperity_id
            order by
                (email is null and phone is null),
                (email is null),
                (phone is null),
                {{ meta_binary_order('email') }},
                {{ meta_binary_order('phone') }},
                {{ meta_binary_order('given_name') }},
                {{ meta_binary_order('surname') }},
                {{ meta_nulls_last('birthdate') }},
                {{ meta_binary_order('gender') }},
                {{ meta_binary_order('city') }},
                {{ meta_binary_order('state') }},
                {{ meta_binary_order('postal') }},
                {{ meta_binary_order('country') }}
        ) as duplicate_rank
    from customers
    where amperity_id is not null

),

final as (

    {#- Every column but the rank, named: `* exclude` is DuckDB's. #}
    select
        amperity_id,
        email,
        phone,
        given_name,
        surname,
        birthdate,
        gender,
        city,
        state,
        postal,
        country
    from ranked
    where duplicate_rank = 1

)

select * from final
