{#- Compute the window once so the filter and the recorded window columns agree. -#}
{%- set as_of = meta_as_of() -%}
{%- set lookback_days = meta_lookback_days() -%}

with

item_lines as (

    select * from {{ ref('stg_amperity__unified_itemized_transactions') }}

),

in_send_window as (

    select *
    from item_lines
    where {{ meta_in_send_window('ordered_at', as_of=as_of, lookback_days=lookback_days) }}

),

not_cancelled_or_returned as (

    select *
    from in_send_window
    where {{ meta_is_not_cancellation_or_return('is_cancellation', 'is_return') }}

),

with_positive_quantity as (

    {# A line with no quantity or a non-positive one is not a purchase (and price =
        revenue / quantity would be meaningless). #}
    select *
    from not_cancelled_or_returned
    where item_quantity > 0

),

in_selected_channels_and_brands as (

    select *
    from with_positive_quantity
    where {{ meta_matches_list_var('purchase_channel', 'purchase_channels') }}
        and {{ meta_matches_list_var('purchase_brand', 'purchase_brands') }}

),

final as (

    {# The window this run used, recorded with every row: the window data test checks
        against it, so it stays true when `dbt test` runs later than `dbt run` (or after
        the first send has narrowed the automatic window to 7 days). #}
    select
        *,
        {{ as_of }} as window_as_of,
        cast({{ lookback_days }} as integer) as window_lookback_days
    from in_selected_channels_and_brands

)

select * from final
