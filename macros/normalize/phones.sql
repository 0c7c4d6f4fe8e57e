{#-
    Phone numbers to E.164 digits in SQL: what tests/reference_normalize.py's normalize_phone returns,
    parsed with the rules of the `phonenumbers` library copied into the seeds
    meta_phone_regions and meta_phone_parsing (seeds/reference/generate_phone_metadata.py).
    Docs, with the measured agreement and speed: macros/normalize/_phones.yml.

    The seeds' patterns are read at compile time (run_query) and rendered as SQL literals in
    `case <region> when ... then <regex>` dispatches: a pattern that is a column value would
    be compiled again for every row, ~1000 times slower.
-#}

{% macro meta_normalize_phones(relation, phone_column, country_column) -%}
    {#- ref() outside `execute`, so dbt sees the dependency on the seeds at parse time. -#}
    {%- set regions_relation = ref('meta_phone_regions') -%}
    {%- set parsing_relation = ref('meta_phone_parsing') -%}
    {%- if not execute -%}
        select *, cast(null as {{ meta_type_text() }}) as phone_e164 from {{ relation }}
    {%- else -%}
        {%- set regions = run_query(
            'select * from ' ~ regions_relation ~ ' order by country_calling_code, region_rank'
        ).rows -%}
        {%- set rules = {} -%}
        {%- for row in run_query('select name, value from ' ~ parsing_relation).rows -%}
            {%- do rules.update({row[0]: row[1]}) -%}
        {%- endfor -%}
        {{- meta_phone_query(relation, phone_column, country_column, regions, rules) -}}
    {%- endif -%}
{%- endmacro %}


{% macro meta_phone_query(relation, phone_column, country_column, regions, rules) -%}
{%- set supported = [] -%}
{%- set code_lists = {1: [], 2: [], 3: []} -%}
{%- for region in regions -%}
    {%- if region['is_supported_region'] -%}{%- do supported.append(region['region_code']) -%}{%- endif -%}
    {%- if region['is_main_region'] -%}
        {%- set code = region['country_calling_code'] | int | string -%}
        {%- do code_lists[code | length].append(code) -%}
    {%- endif -%}
{%- endfor -%}
{%- set default_region = var('default_phone_region', 'US') | string | trim | upper -%}
{%- set supported_list = meta_phone_list(supported) -%}
with

meta_phone_inputs as {{ meta_phone_materialized() }} (
    {#- One parse per distinct (phone, country): customers repeat, and the final join on these
        keys gives back exactly one row per input row. NULL and '' mean the same (no phone,
        no country) to normalize_phone, so they share a key and the join needs no null logic. #}
    select distinct
        coalesce(cast({{ phone_column }} as {{ meta_type_text() }}), '') as phone_key,
        coalesce(cast({{ country_column }} as {{ meta_type_text() }}), '') as country_key
    from {{ relation }}
),

meta_phone_retry_digits as {{ meta_phone_materialized() }} (
    select
        phone_key,
        country_key,
        {#- normalize_phone's retry: re.sub(r"[\s().\-]", "", text), with Python's Unicode \s #}
        {{ meta_phone_regex_replace('phone_key', meta_sql_string('[\\s\\v().\\-' ~ rules['non_ascii_whitespace'] ~ ']'), "''", every=true) }} as retry_digits
    from meta_phone_inputs
    where phone_key <> ''
),

meta_phone_attempts as {{ meta_phone_materialized() }} (
    {#- normalize_phone: '00' is the international prefix almost everywhere, so it becomes
        '+'; a number with '+' carries its calling code and is parsed without a region;
        others in the customer's country when phonenumbers knows it, else the default. #}
    select
        phone_key,
        country_key,
        1 as attempt,
        case
            when left(phone_key, 2) = '00' then '+' || substr(phone_key, 3)
            else phone_key
        end as phone_text,
        case
            when left(phone_key, 2) = '00' or left(phone_key, 1) = '+' then null
            when upper(country_key) in ({{ supported_list }}) then upper(country_key)
            {%- if default_region in supported %}
            else {{ meta_sql_string(default_region) }}
            {%- endif %}
        end as parse_region
    from meta_phone_inputs
    where phone_key <> ''

    union all

    {#- A number invalid as national, written as digits with only spaces ( ) . - and no
        leading 0, is tried again as international ('442079460958' on a US row): parsed
        alongside, used only when the first attempt gives nothing. #}
    select
        phone_key,
        country_key,
        2 as attempt,
        '+' || retry_digits as phone_text,
        cast(null as {{ meta_type_text() }}) as parse_region
    from meta_phone_retry_digits
    where
        left(phone_key, 1) <> '+'
        and left(phone_key, 2) <> '00'
        and retry_digits <> ''
        and left(retry_digits, 1) <> '0'
        and {{ meta_phone_regex_full_match(meta_phone_ascii('retry_digits', rules), "'[0-9]+'") }}
),

meta_phone_extracted as {{ meta_phone_materialized() }} (
    {#- phonenumbers' _extract_possible_number: from the first '+' or digit (any script's
        digits, mapped to ASCII first), without trailing characters other than letters,
        digits and '#', cut before a second number ("/x2303"), and before ";isub=". #}
    select
        phone_key,
        country_key,
        attempt,
        parse_region,
        {{ meta_phone_regex_replace(
            meta_phone_regex_replace(
                meta_phone_regex_extract(meta_phone_ascii('phone_text', rules), "'(?s)[+0-9].*'"),
                meta_sql_string(rules['unwanted_end_chars']),
                "''"
            ),
            meta_sql_string('(?s)(?:' ~ rules['second_number_start'] ~ ').*'),
            "''"
        ) }} as extracted_text
    from meta_phone_attempts
    {#- parse() refuses longer input outright. #}
    where length(phone_text) <= {{ rules['max_input_length'] }}
),

meta_phone_viable as {{ meta_phone_materialized() }} (
    select
        phone_key,
        country_key,
        attempt,
        parse_region,
        case
            when position(';isub=' in extracted_text) > 1 then left(extracted_text, position(';isub=' in extracted_text) - 1)
            else extracted_text
        end as possible_number
    from meta_phone_extracted
),

meta_phone_extensions as {{ meta_phone_materialized() }} (
    {#- A viable number (digits and phone punctuation, an extension allowed) only; without
        a known region it must start with '+'. The extension ("ext. 12", "x12", "#12",
        ";ext=12") goes when what precedes it is viable on its own. #}
    select
        phone_key,
        country_key,
        attempt,
        parse_region,
        possible_number,
        {{ meta_phone_regex_contains('possible_number', meta_sql_string('(?i)(?:' ~ rules['extension'] ~ ')$')) }} as has_extension,
        case
            when {{ meta_phone_regex_contains('possible_number', meta_sql_string('(?i)(?:' ~ rules['extension'] ~ ')$')) }}
                then {{ meta_phone_regex_extract('possible_number', meta_sql_string('(?is)^(.*?)(?:' ~ rules['extension'] ~ ')$'), 1) }}
        end as before_extension
    from meta_phone_viable
    where
        {{ meta_phone_is_viable('possible_number', rules) }}
        and (parse_region is not null or left(possible_number, 1) = '+')
),

meta_phone_normalized as {{ meta_phone_materialized() }} (
    {#- Digits only; with 3 or more ASCII letters, letters are keypad digits (1-800-FLOWERS). #}
    select
        phone_key,
        country_key,
        attempt,
        parse_region,
        left(national_text, 1) = '+' as has_plus,
        case
            when {{ meta_phone_regex_full_match('national_text', meta_sql_string(rules['valid_alpha_phone'])) }}
                then {{ meta_phone_regex_replace(
                    'translate(national_text, ' ~ meta_sql_string(rules['alpha_letters']) ~ ', ' ~ meta_sql_string(rules['alpha_digits']) ~ ')',
                    "'[^0-9]'", "''", every=true
                ) }}
            else {{ meta_phone_regex_replace('national_text', "'[^0-9]'", "''", every=true) }}
        end as normalized
    from (
        select
            *,
            case
                when has_extension and {{ meta_phone_is_viable('before_extension', rules) }} then before_extension
                else possible_number
            end as national_text
        from meta_phone_extensions
    ) as extensions_stripped
),

meta_phone_code_candidates as {{ meta_phone_materialized() }} (
    {#- _maybe_extract_country_code: after '+', the calling code; else after the region's
        IDD prefix (011 in the US), unless a 0 follows it. #}
    select
        normalized_numbers.*,
        region.country_calling_code as region_calling_code,
        region.possible_lengths as region_possible_lengths,
        region.local_only_lengths as region_local_only_lengths,
        region.min_length as region_min_length,
        region.max_length as region_max_length,
        case
            when normalized_numbers.has_plus and length(normalized_numbers.normalized) > 2
                then {{ meta_phone_calling_code('normalized_numbers.normalized', code_lists) }}
        end as plus_code,
        {{ meta_phone_dispatch('normalized_numbers.parse_region', regions, 'international_prefix', 'prefix', 'normalized_numbers.normalized') }} as idd_prefix
    from meta_phone_normalized as normalized_numbers
    left join {{ ref('meta_phone_regions') }} as region
        on normalized_numbers.parse_region = region.metadata_id
),

meta_phone_code_routes as {{ meta_phone_materialized() }} (
    select
        *,
        coalesce(idd_prefix, '') <> '' and left(after_idd, 1) <> '0' as is_from_idd,
        case
            when length(after_idd) > 2 then {{ meta_phone_calling_code('after_idd', code_lists) }}
        end as idd_code,
        {#- No '+' nor IDD: a number that starts with the region's own calling code may be
            written without '+' (4930123456 in DE); the code goes only when what remains,
            national prefix stripped, fits the region better (below). #}
        parse_region is not null
            and left(normalized, length(cast(region_calling_code as {{ meta_type_text() }}))) = cast(region_calling_code as {{ meta_type_text() }})
            as starts_with_region_code,
        case
            when
                parse_region is not null
                and plus_code is null
                and not (coalesce(idd_prefix, '') <> '' and left(after_idd, 1) <> '0')
                and left(normalized, length(cast(region_calling_code as {{ meta_type_text() }}))) = cast(region_calling_code as {{ meta_type_text() }})
                then parse_region
        end as region_code_metadata_id,
        substr(normalized, length(cast(region_calling_code as {{ meta_type_text() }})) + 1) as after_region_code
    from (
        select
            *,
            substr(normalized, length(coalesce(idd_prefix, '')) + 1) as after_idd
        from meta_phone_code_candidates
    ) as with_idd
),

{#- Only rows that may drop their region's code (region_code_metadata_id) pay these regexes. #}
{{ meta_phone_national_prefix_ctes('meta_phone_default_code', 'meta_phone_code_routes', 'after_region_code', 'region_code_metadata_id', regions) }}

meta_phone_calling_codes as {{ meta_phone_materialized() }} (
    select
        *,
        case
            when has_plus and length(normalized) <= 2 then 'fail'
            when plus_code is not null then 'plus'
            when is_from_idd then case when idd_code is not null then 'idd' else 'fail' end
            when
                starts_with_region_code
                and (
                    (
                        not coalesce({{ meta_phone_dispatch('region_code_metadata_id', regions, 'general_pattern', 'full_match', 'normalized') }}, false)
                        and coalesce({{ meta_phone_dispatch('region_code_metadata_id', regions, 'general_pattern', 'full_match', 'national_prefix_stripped') }}, false)
                    )
                    or {{ meta_phone_length_result('normalized', 'region_possible_lengths', 'region_local_only_lengths', 'region_min_length', 'region_max_length') }} = 'too_long'
                )
                then 'region_code'
            {#- '+' and a code that does not exist: only the IDD and region-code routes remain. #}
            when has_plus then 'fail'
            when parse_region is null then 'fail'
            else 'national'
        end as code_route
    from meta_phone_default_code_stripped
),

meta_phone_nationals as {{ meta_phone_materialized() }} (
    {#- Once a calling code is read, its main region's metadata applies (+1: US); a national
        number keeps its region's. #}
    select
        routed.phone_key,
        routed.country_key,
        routed.attempt,
        routed.calling_code,
        routed.national_number,
        coalesce(case when routed.code_route = 'national' then routed.parse_region end, main_region.metadata_id) as metadata_id
    from (
        select
            *,
            case code_route
                when 'plus' then plus_code
                when 'idd' then idd_code
                else cast(region_calling_code as {{ meta_type_text() }})
            end as calling_code,
            case code_route
                when 'plus' then substr(normalized, length(plus_code) + 1)
                when 'idd' then substr(after_idd, length(idd_code) + 1)
                when 'region_code' then national_prefix_stripped
                else normalized
            end as national_number
        from meta_phone_calling_codes
        where code_route <> 'fail'
    ) as routed
    left join {{ ref('meta_phone_regions') }} as main_region
        on routed.calling_code = cast(main_region.country_calling_code as {{ meta_type_text() }})
        and main_region.is_main_region
    where length(routed.national_number) >= {{ rules['min_nsn_length'] }}
),

{{ meta_phone_national_prefix_ctes('meta_phone_national', 'meta_phone_nationals', 'national_number', 'metadata_id', regions) }}

meta_phone_significant_numbers as {{ meta_phone_materialized() }} (
    {#- The national prefix (0, 1, Argentina's 0..15 -> 9...) goes when what remains has a
        possible length for the region: else the number may be a short one. #}
    select
        stripped.phone_key,
        stripped.country_key,
        stripped.attempt,
        stripped.calling_code,
        case
            when {{ meta_phone_length_result(
                'stripped.national_prefix_stripped', 'region.possible_lengths', 'region.local_only_lengths',
                'region.min_length', 'region.max_length'
            ) }} in ('too_short', 'local_only', 'invalid_length')
                then stripped.national_number
            else stripped.national_prefix_stripped
        end as significant_number
    from meta_phone_national_stripped as stripped
    inner join {{ ref('meta_phone_regions') }} as region
        on stripped.metadata_id = region.metadata_id
),

meta_phone_claims as {{ meta_phone_materialized() }} (
    {#- region_code_for_number: the first region of the calling code whose leading digits
        match (or, without leading digits, for which the number is valid) owns it; a code
        of one region always does. is_valid_number then checks that region only. #}
    select
        numbers.phone_key,
        numbers.country_key,
        numbers.attempt,
        numbers.calling_code,
        numbers.significant_number,
        region.metadata_id,
        region.region_rank,
        region.possible_lengths,
        case
            when region.regions_sharing_code = 1 then 'single'
            when region.leading_digits is not null
                then case
                    when {{ meta_phone_dispatch('region.metadata_id', regions, 'leading_digits', 'starts_with', 'numbers.significant_number') }}
                        then 'leading_digits'
                end
            when {{ meta_phone_is_valid('numbers.significant_number', 'region.metadata_id', 'region.possible_lengths', regions) }}
                then 'valid'
        end as claim
    from meta_phone_significant_numbers as numbers
    inner join {{ ref('meta_phone_regions') }} as region
        on numbers.calling_code = cast(region.country_calling_code as {{ meta_type_text() }})
    where length(numbers.significant_number) between {{ rules['min_nsn_length'] }} and {{ rules['max_nsn_length'] }}
),

meta_phone_owners as {{ meta_phone_materialized() }} (
    select
        *,
        row_number() over (partition by phone_key, country_key, attempt order by region_rank) as claim_order
    from meta_phone_claims
    where claim is not null
),

meta_phone_parsed as {{ meta_phone_materialized() }} (
    select
        phone_key,
        country_key,
        attempt,
        calling_code || significant_number as phone_e164
    from meta_phone_owners
    where
        claim_order = 1
        and (
            claim = 'valid'
            or {{ meta_phone_is_valid('significant_number', 'metadata_id', 'possible_lengths', regions) }}
        )
),

meta_phone_results as {{ meta_phone_materialized() }} (
    select
        phone_key,
        country_key,
        coalesce(
            max(case when attempt = 1 then phone_e164 end),
            max(case when attempt = 2 then phone_e164 end)
        ) as phone_e164
    from meta_phone_parsed
    group by phone_key, country_key
)

select
    meta_phone_source.*,
    meta_phone_results.phone_e164
from {{ relation }} as meta_phone_source
left join meta_phone_results
    on coalesce(cast(meta_phone_source.{{ phone_column }} as {{ meta_type_text() }}), '') = meta_phone_results.phone_key
    and coalesce(cast(meta_phone_source.{{ country_column }} as {{ meta_type_text() }}), '') = meta_phone_results.country_key
{%- endmacro %}


{#- Unicode decimal digits (and the full-width '+') as ASCII, one character for one. -#}
{% macro meta_phone_ascii(expr, rules) -%}
    {#- translate() with all ~650 digits costs ~100 us a row: only text that has such digits
        pays, and only text in the rarer scripts pays the whole map. -#}
    case
        when not {{ meta_phone_regex_contains(expr, meta_sql_string(rules['non_ascii_digits'])) }} then {{ expr }}
        when not {{ meta_phone_regex_contains(expr, meta_sql_string(rules['rare_digits'])) }}
            then translate({{ expr }}, {{ meta_sql_string(rules['common_translate_from']) }}, {{ meta_sql_string(rules['common_translate_to']) }})
        else translate({{ expr }}, {{ meta_sql_string(rules['ascii_translate_from']) }}, {{ meta_sql_string(rules['ascii_translate_to']) }})
    end
{%- endmacro %}


{#- phonenumbers' _is_viable_phone_number: 2+ characters, digits and phone punctuation. -#}
{% macro meta_phone_is_viable(expr, rules) -%}
    (
        length({{ expr }}) >= {{ rules['min_nsn_length'] }}
        and {{ meta_phone_regex_full_match(expr, meta_sql_string('(?i)(?:' ~ rules['valid_phone_number'] ~ ')(?:' ~ rules['extension'] ~ ')?')) }}
    )
{%- endmacro %}


{#- 'a', 'b' for an IN list. -#}
{% macro meta_phone_list(values) -%}
    {%- for value in values -%}{{ meta_sql_string(value) }}{{ ", " if not loop.last }}{%- endfor -%}
{%- endmacro %}


{#- The calling code that starts the digits (1 to 3 digits, never 0...), else NULL. -#}
{% macro meta_phone_calling_code(expr, code_lists) -%}
    case
        {%- for size in [1, 2, 3] %}
        when left({{ expr }}, {{ size }}) in ({{ meta_phone_list(code_lists[size]) }}) then left({{ expr }}, {{ size }})
        {%- endfor %}
    end
{%- endmacro %}


{#-
    `case <key> when <metadata_id> then <regex test of subject with that region's pattern> end`
    over the regions that have a value in `column`; NULL for the others. Operations:
    full_match, starts_with (a match at the start), prefix (the match at the start, '' for
    none), prefix_group (its group `group`), prefix_transform (the match at the start
    replaced with the region's national_prefix_transform_rule).
-#}
{% macro meta_phone_dispatch(key, regions, column, operation, subject, group=none) -%}
    case {{ key }}
    {%- for region in regions if region[column] is not none
        and (operation not in ('prefix_group', 'prefix_transform') or region['national_prefix_transform_rule'] is not none) %}
        {%- set pattern = region[column] %}
        when {{ meta_sql_string(region['metadata_id']) }} then
        {%- if operation == 'full_match' %} {{ meta_phone_regex_full_match(subject, meta_sql_string(pattern)) }}
        {%- elif operation == 'starts_with' %} {{ meta_phone_regex_contains(subject, meta_sql_string('^(?:' ~ pattern ~ ')')) }}
        {%- elif operation == 'prefix' %} {{ meta_phone_regex_extract(subject, meta_sql_string('^(?:' ~ pattern ~ ')')) }}
        {%- elif operation == 'prefix_group' %} {{ meta_phone_regex_extract(subject, meta_sql_string('^(?:' ~ pattern ~ ')'), region['national_prefix_group_count'] | int) }}
        {%- elif operation == 'prefix_transform' %} {{ meta_phone_regex_replace(subject, meta_sql_string('^(?:' ~ pattern ~ ')'), meta_sql_string(region['national_prefix_transform_rule'])) }}
        {%- endif %}
    {%- endfor %}
    end
{%- endmacro %}


{#-
    Two CTEs, `<name>_prefix` and `<name>_stripped`, adding `national_prefix_stripped` to
    `source`: phonenumbers' _maybe_strip_national_prefix_and_carrier_code of `subject` with
    the metadata `key`. The prefix (or its transform, e.g. Argentina's 0..15 -> 9...) goes
    unless the number matched the general pattern before and no longer does.
-#}
{% macro meta_phone_national_prefix_ctes(name, source, subject, key, regions) -%}
{{ name }}_prefix as {{ meta_phone_materialized() }} (
    select
        *,
        {{ meta_phone_dispatch(key, regions, 'national_prefix_for_parsing', 'prefix', subject) }} as national_prefix_match,
        {{ meta_phone_dispatch(key, regions, 'national_prefix_for_parsing', 'prefix_group', subject) }} as national_prefix_last_group,
        {{ meta_phone_dispatch(key, regions, 'national_prefix_for_parsing', 'prefix_transform', subject) }} as national_prefix_transformed
    from {{ source }}
),

{{ name }}_stripped as {{ meta_phone_materialized() }} (
    select
        *,
        case
            when
                coalesce({{ meta_phone_dispatch(key, regions, 'general_pattern', 'full_match', subject) }}, false)
                and not coalesce({{ meta_phone_dispatch(key, regions, 'general_pattern', 'full_match', 'national_prefix_candidate') }}, false)
                then {{ subject }}
            else national_prefix_candidate
        end as national_prefix_stripped
    from (
        select
            *,
            case
                {#- An empty match strips nothing (the seed generator checks no transform
                    rule's last group can be empty). #}
                when coalesce(national_prefix_match, '') = '' then {{ subject }}
                when coalesce(national_prefix_last_group, '') <> '' then national_prefix_transformed
                else substr({{ subject }}, length(national_prefix_match) + 1)
            end as national_prefix_candidate
        from {{ name }}_prefix
    ) as candidates
),
{%- endmacro %}


{#- phonenumbers' _test_number_length against the general description's lengths. -#}
{% macro meta_phone_length_result(expr, possible_lengths, local_only_lengths, min_length, max_length) -%}
    case
        when position(',' || cast(length({{ expr }}) as {{ meta_type_text() }}) || ',' in ',' || coalesce({{ local_only_lengths }}, '') || ',') > 0 then 'local_only'
        when length({{ expr }}) = {{ min_length }} then 'possible'
        when length({{ expr }}) < {{ min_length }} then 'too_short'
        when length({{ expr }}) > {{ max_length }} then 'too_long'
        when position(',' || cast(length({{ expr }}) as {{ meta_type_text() }}) || ',' in ',' || {{ possible_lengths }} || ',') > 0 then 'possible'
        else 'invalid_length'
    end
{%- endmacro %}


{#- is_valid_number_for_region: a possible length, the general pattern and one number type's
    pattern and lengths (valid_number_pattern is matched against '<2-digit length><number>'). -#}
{% macro meta_phone_is_valid(expr, key, possible_lengths, regions) -%}
    (
        position(',' || cast(length({{ expr }}) as {{ meta_type_text() }}) || ',' in ',' || {{ possible_lengths }} || ',') > 0
        and coalesce({{ meta_phone_dispatch(key, regions, 'general_pattern', 'full_match', expr) }}, false)
        and coalesce({{ meta_phone_dispatch(key, regions, 'valid_number_pattern', 'full_match', "lpad(cast(length(" ~ expr ~ ") as " ~ meta_type_text() ~ "), 2, '0') || " ~ expr) }}, false)
    )
{%- endmacro %}
