{#-
    The item lines that cannot be sent, each with the reason (one code; the exporter's README
    lists them all). A line that breaks no rule itself is held back with its order when another
    line of the order breaks one (order_has_rejected_line), or with the order's own reason:
    a partial order would send a wrong value.
-#}
with

lines as (

    select * from {{ ref('int_meta_capi_lines_checked') }}

),

events as (

    select order_id, reject_reason from {{ ref('meta_capi_events') }}

),

final as (

    select
        lines.order_id,
        lines.product_id,
        lines.line_number,
        coalesce(
            lines.line_problem,
            case when lines.first_problem_line is not null then 'order_has_rejected_line' end,
            events.reject_reason
        ) as reason
    from lines
    left join events
        on events.order_id = lines.order_id
    where lines.line_problem is not null
        or lines.first_problem_line is not null
        or events.reject_reason is not null

)

select * from final
