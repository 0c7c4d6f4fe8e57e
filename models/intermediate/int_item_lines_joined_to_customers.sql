with

item_lines as (

    select * from {{ ref('int_item_lines_filtered_to_sendable') }}

),

customers as (

    select * from {{ ref('int_customers_deduplicated') }}

),

joined as (

    select
        item_lines.*,
        customers.email,
        customers.phone,
        customers.given_name,
        customers.surname,
        customers.birthdate,
        customers.gender,
        customers.city,
        customers.state,
        customers.postal,
        customers.country
    from item_lines
    inner join customers
        on item_lines.amperity_id = customers.amperity_id

),

with_contact as (

    {#- Meta cannot match an event without an email or a phone (location, gender or birth
        date alone make it invalid), and the destination we replace required one. Blank
        values are already NULL from staging. A line whose customer is missing from
        customer_360 has neither, so the inner join above applies the same rule. #}
    select *
    from joined
    where email is not null
        or phone is not null

),

final as (

    select * from with_contact

)

select * from final
