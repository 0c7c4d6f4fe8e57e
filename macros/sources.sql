{#-
    The columns a source table really has, read from the warehouse when the staging model is
    compiled: `{column name (lower case): data type (upper case)}`. Real sources differ from
    the contract's full list: optional columns may be absent (staging then selects a typed
    NULL, see meta_column_or_null) and `order_datetime` may be a TIMESTAMP, a TIMESTAMP WITH
    TIME ZONE or text, each read differently (meta_to_utc_timestamp). Knowing the types at
    compile time lets the SQL branch in Jinja instead of guessing per row.

    A required column that is missing stops the run here, with a message naming the column
    and the table, rather than as a binder error deep in the compiled SQL.

    At parse time nothing may be queried: every column is unknown ({}). In a unit test the
    source is a fixture CTE with no columns to describe: the test must state the columns it
    gives (`overrides: macros: {meta_source_columns: {...}}`), so it never depends on the
    user's warehouse.
-#}
{% macro meta_source_columns(relation, required=[], required_one_of=[]) -%}
    {%- if not execute -%}
        {{ return({}) }}
    {%- endif -%}
    {%- if relation.is_cte -%}
        {{ exceptions.raise_compiler_error(
            "The unit test " ~ model.name ~ " must state the columns of its source fixture: "
            ~ "overrides: macros: {meta_source_columns: {column_name: data_type, ...}}") }}
    {%- endif -%}
    {%- set columns = {} -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do columns.update({column.name | lower: column.data_type | upper}) -%}
    {%- endfor -%}
    {%- set table_name = relation.identifier -%}
    {%- if columns | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "The source table " ~ table_name ~ " does not exist as " ~ relation
            ~ ": set var source_schema to the schema that holds unified_itemized_transactions and "
            ~ "customer_360 (now '" ~ var('source_schema', 'amperity_sample') ~ "').") }}
    {%- endif -%}
    {%- set missing = [] -%}
    {%- for column_name in required if column_name not in columns -%}
        {%- do missing.append(column_name) -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            "The source table " ~ relation ~ " has no column" ~ ("" if missing | length == 1 else "s") ~ " "
            ~ missing | join(', ') ~ ", which " ~ ("is" if missing | length == 1 else "are") ~ " required. Required in "
            ~ table_name ~ ": " ~ required | join(', ')
            ~ (("; and at least one of " ~ required_one_of | join(', ')) if required_one_of else "")
            ~ ". Every other column is optional (absent means NULL).") }}
    {%- endif -%}
    {%- if required_one_of and (required_one_of | select('in', columns) | list | length) == 0 -%}
        {{ exceptions.raise_compiler_error(
            "The source table " ~ relation ~ " needs at least one of the columns "
            ~ required_one_of | join(', ') ~ "; it has neither.") }}
    {%- endif -%}
    {{ return(columns) }}
{%- endmacro %}


{#-
    A source column if the table has it, else a NULL of the type the column would have: the
    contract makes every column optional but the required ones, and "absent" means NULL. The
    result is an expression, so staging applies the same cleaning to both.
-#}
{% macro meta_column_or_null(columns, column_name, data_type) -%}
    {%- if column_name in columns -%}
        {{ column_name }}
    {%- else -%}
        cast(null as {{ data_type }})
    {%- endif -%}
{%- endmacro %}
