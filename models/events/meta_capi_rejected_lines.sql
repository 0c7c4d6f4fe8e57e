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

rejected_lines as (

    {#- The lines of rejected orders, and lines that break a rule themselves (those without an
        order_id have no event). #}
    select
        lines.order_id,
        lines.product_id,
        lines.line_number,
        lines.line_problem,
        events.reject_reason
    from lines
    left join events
        on events.order_id = lines.order_id
    where lines.line_problem is not null
        or events.reject_reason is not null

),

final as (

    select
        order_id,
        product_id,
        line_number,
        coalesce(
            line_problem,
            {#- A window over the few rejected lines, not over every line. #}
            case when count(line_problem) over (partition by order_id) > 0 then 'order_has_rejected_line' end,
            reject_reason
        ) as reason
    from rejected_lines

)

select * from final
