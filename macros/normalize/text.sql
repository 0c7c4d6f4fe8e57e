{#-
    Customer information normalizers for Meta's user_data, every key but the phone: each macro
    takes a SQL expression and renders a SQL expression that gives, byte for byte, what the
    Python function of tests/reference_normalize.py named in its comment gives (varchar; NULL when the
    value is missing or unusable). tests/test_text_normalizers_sql.py holds them to it on every
    Unicode code point and on generated customers.

    Each public macro dispatches (adapter.dispatch), so other engines can add their own
    implementation; default__ is DuckDB's. Functions DuckDB alone has are kept in the small
    meta__ helpers at the end of this file. Character classes are Python's, as code point
    ranges (text_character_classes.sql), never the engine's \pL: Python 3.11 knows Unicode 14,
    DuckDB's regex library Unicode 15.
-#}

{#- _text(): str.strip() (Python's whitespace: \s, \x1c-\x1f, \x85, \xa0, \u2000-\u200a, ...), blank -> NULL. -#}
{% macro meta_trim(expr) -%}
    {{ return(adapter.dispatch('meta_trim')(expr)) }}
{%- endmacro %}

{% macro default__meta_trim(expr) -%}
    nullif({{ meta__strip_characters('cast(' ~ expr ~ ' as ' ~ meta_type_text() ~ ')', 'whitespace') }}, '')
{%- endmacro %}


{#- normalize_email(): trimmed, Python's lower(), must be local@domain.tld. -#}
{% macro meta_normalize_email(expr) -%}
    {{ return(adapter.dispatch('meta_normalize_email')(expr)) }}
{%- endmacro %}

{% macro default__meta_normalize_email(expr) -%}
    {%- set not_at_space = meta__regex_class('whitespace', negate=true, extra='@') -%}
    {%- set not_at_space_dot = meta__regex_class('whitespace', negate=true, extra='@.') -%}
    {#- Python's pattern, with \s spelled as Python's whitespace class. -#}
    {%- set pattern = not_at_space ~ '+@(?:' ~ not_at_space_dot ~ '+\.)+' ~ not_at_space_dot ~ '{2,}' -%}
    {%- set email = meta__python_lower(meta_trim(expr)) -%}
    {#- Repeated rather than bound in a subquery: DuckDB computes a repeated expression once,
        while a subquery per row costs a join. -#}
    case when {{ meta__regexp_full_match(email, pattern) }} then {{ email }} end
{%- endmacro %}


{#- normalize_name() (fn, ln): NFC, Python's lower(), letters, marks and decimal digits only. -#}
{% macro meta_normalize_name(expr) -%}
    {{ return(adapter.dispatch('meta_normalize_name')(expr)) }}
{%- endmacro %}

{% macro default__meta_normalize_name(expr) -%}
    nullif({{ meta__keep_characters(meta__nfc_lower(meta_trim(expr)), 'letters_marks_digits') }}, '')
{%- endmacro %}


{#- normalize_city() (ct): as names, without digits. -#}
{% macro meta_normalize_city(expr) -%}
    {{ return(adapter.dispatch('meta_normalize_city')(expr)) }}
{%- endmacro %}

{% macro default__meta_normalize_city(expr) -%}
    nullif({{ meta__keep_characters(meta__nfc_lower(meta_trim(expr)), 'letters_marks') }}, '')
{%- endmacro %}


{#-
    normalize_birthdate() (db): 'YYYYMMDD'; years before 1900 (placeholders) dropped. A DATE or
    TIMESTAMP is read as is; text as Python 3.11's date.fromisoformat / datetime.fromisoformat
    read it, for the forms address data has (see meta__date_from_iso_text).
-#}
{% macro meta_normalize_birthdate(expr) -%}
    {{ return(adapter.dispatch('meta_normalize_birthdate')(expr)) }}
{%- endmacro %}

{% macro default__meta_normalize_birthdate(expr) -%}
    {%- set birthdate = meta__date_from_iso_text(meta_trim(expr)) -%}
    case when year({{ birthdate }}) >= 1900 then strftime({{ birthdate }}, '%Y%m%d') end
{%- endmacro %}

{% macro postgres__meta_normalize_birthdate(expr) -%}
    {%- set birthdate = meta__date_from_iso_text(meta_trim(expr)) -%}
    case when extract(year from {{ birthdate }}) >= 1900 then to_char({{ birthdate }}, 'YYYYMMDD') end
{%- endmacro %}


{#- normalize_gender() (ge): f / female / m / male, any case -> 'f' / 'm'. -#}
{% macro meta_normalize_gender(expr) -%}
    {{ return(adapter.dispatch('meta_normalize_gender')(expr)) }}
{%- endmacro %}

{% macro default__meta_normalize_gender(expr) -%}
    case lower({{ meta_trim(expr) }})
        when 'f' then 'f'
        when 'female' then 'f'
        when 'm' then 'm'
        when 'male' then 'm'
    end
{%- endmacro %}


{#- normalize_external_id(): trimmed only (ids are case-sensitive). -#}
{% macro meta_normalize_external_id(expr) -%}
    {{ return(adapter.dispatch('meta_normalize_external_id')(expr)) }}
{%- endmacro %}

{% macro default__meta_normalize_external_id(expr) -%}
    {{ meta_trim(expr) }}
{%- endmacro %}


{#-
    normalize_state() (st), given the row's normalized country (lowercase alpha-2 or NULL).
    US: the code of a state code or name (seed us_states), else NULL. No country: a US state
    code or name still maps to its code. Otherwise: as names (letters, marks, digits).
-#}
{% macro meta_normalize_state(expr, country_alpha2_expr) -%}
    {%- set state_text = meta_trim(expr) -%}
    {%- set us_state_code = meta__us_state_code(state_text) -%}
    case
        when {{ state_text }} is null then null
        when {{ country_alpha2_expr }} = 'us' then {{ us_state_code }}
        when {{ country_alpha2_expr }} is null and {{ us_state_code }} is not null then {{ us_state_code }}
        else nullif({{ meta__keep_characters(meta__nfc_lower(state_text), 'letters_marks_digits') }}, '')
    end
{%- endmacro %}

{#- The US state code whose lookup key is the text's, or NULL. -#}
{% macro meta__us_state_code(state_text) -%}
    {{ return(adapter.dispatch('meta__us_state_code')(state_text)) }}
{%- endmacro %}

{% macro default__meta__us_state_code(state_text) -%}
    (
        select us_states.state_code
        from {{ ref('us_states') }} as us_states
        where us_states.lookup_key = {{ meta__lookup_key(state_text) }}
    )
{%- endmacro %}


{#- As DuckDB's, with the key computed once per row: PostgreSQL evaluated the correlated
    `lookup_key = <key>` for each of the ~60 states it scanned (0.37 ms a row, most of a
    customer's time); `offset 0` keeps the key's subquery from being folded back into it. -#}
{% macro postgres__meta__us_state_code(state_text) -%}
    (
        select us_states.state_code
        from (select {{ meta__lookup_key(state_text) }} as lookup_key offset 0) as state_key
        inner join {{ ref('us_states') }} as us_states
            on us_states.lookup_key = state_key.lookup_key
    )
{%- endmacro %}


{#-
    normalize_postal() (zp), given the row's normalized country. US: the first 5 digits of a
    ZIP or ZIP+4 (spaces and dashes ignored), else NULL. No country: a ZIP+4 is US. Otherwise:
    Python's lower(), letters and digits only. Digits are Unicode decimal digits, as Python's \d.
-#}
{% macro meta_normalize_postal(expr, country_alpha2_expr) -%}
    {{ return(adapter.dispatch('meta_normalize_postal')(expr, country_alpha2_expr)) }}
{%- endmacro %}

{% macro default__meta_normalize_postal(expr, country_alpha2_expr) -%}
    {%- set digit = meta__regex_class('decimal_digits') -%}
    {%- set space_or_dash = meta__regex_class('whitespace', extra='-') -%}
    {%- set us_zip = '(?:' ~ digit ~ '{5}|' ~ digit ~ '{9})' -%}
    {%- set likely_us_zip = digit ~ '{5}' ~ space_or_dash ~ '?' ~ digit ~ '{4}' -%}
    {%- set postal_text = meta_trim(expr) -%}
    {%- set us_digits = meta__regexp_replace_all(postal_text, space_or_dash, '') -%}
    case
        when {{ postal_text }} is null then null
        when {{ country_alpha2_expr }} = 'us' then
            case when {{ meta__regexp_full_match(us_digits, us_zip) }} then substr({{ us_digits }}, 1, 5) end
        when {{ country_alpha2_expr }} is null and {{ meta__regexp_full_match(postal_text, likely_us_zip) }}
            then substr({{ postal_text }}, 1, 5)
        else nullif({{ meta__keep_characters(meta__python_lower(postal_text), 'alphanumeric') }}, '')
    end
{%- endmacro %}


{#-
    normalize_country(), as a relation: every row of `relation` (one output row per input row)
    plus `country_alpha2`, the lowercase alpha-2 of `column` from a code, alpha-3, English name or
    alias (seed country_codes_and_names), else a name in any language pycountry translates
    into, as written (country_translated_names_exact) then without accents
    (country_translated_names_folded). A 2-character ASCII key not written as two letters
    ("N/A", "n-a") is a placeholder: NULL.
    A relation, not a scalar: each distinct value is keyed once and joined to the seeds. The
    same rule as a scalar expression needs correlated subqueries nested in correlated
    subqueries, which DuckDB took 25 s (and more) to run on 2,000 customers.
-#}
{% macro meta_normalize_countries(relation, column) -%}
    {{ return(adapter.dispatch('meta_normalize_countries')(relation, column)) }}
{%- endmacro %}

{% macro default__meta_normalize_countries(relation, column) -%}
    {%- set letter = meta__regex_class('word_letters') -%}
    {%- set space = meta__regex_class('whitespace') -%}
    {%- set two_letters = letter ~ '\\.?' ~ space ~ '*' ~ letter ~ '\\.?' -%}
    with

    country_rows as (
        select * from {{ relation }}
    ),

    country_values as (
        select distinct
            {{ column }} as country_value,
            {{ meta_trim(column) }} as country_text
        from country_rows
    ),

    country_keys as (
        select
            country_value,
            country_text,
            {{ meta__lookup_key('country_text') }} as lookup_key,
            {{ meta__exact_lookup_key('country_text') }} as exact_lookup_key
        from country_values
    ),

    country_codes as (
        select
            country_keys.country_value,
            case
                when country_keys.lookup_key = '' then null
                when length(country_keys.lookup_key) = 2
                    and {{ meta__regexp_full_match('country_keys.lookup_key', '[\\x{0}-\\x{7f}]{2}') }}
                    and not {{ meta__regexp_full_match('country_keys.country_text', two_letters) }}
                    then null
                else coalesce(
                    codes_and_names.country_alpha2,
                    translated_exact.country_alpha2,
                    translated_folded.country_alpha2
                )
            end as country_alpha2
        from country_keys
        left join {{ ref('country_codes_and_names') }} as codes_and_names
            on codes_and_names.lookup_key = country_keys.lookup_key
        left join {{ ref('country_translated_names_exact') }} as translated_exact
            on translated_exact.lookup_key = country_keys.exact_lookup_key
        left join {{ ref('country_translated_names_folded') }} as translated_folded
            on translated_folded.lookup_key = country_keys.lookup_key
    )

    select
        country_rows.*,
        country_codes.country_alpha2
    from country_rows
    left join country_codes
        on country_rows.{{ column }} is not distinct from country_codes.country_value
{%- endmacro %}


{#- sha256_hex(): hex lowercase SHA-256 of the UTF-8 bytes. -#}
{% macro meta_sha256(expr) -%}
    {{ return(adapter.dispatch('meta_sha256')(expr)) }}
{%- endmacro %}

{% macro default__meta_sha256(expr) -%}
    sha256(cast({{ expr }} as {{ meta_type_text() }}))
{%- endmacro %}

{% macro postgres__meta_sha256(expr) -%}
    encode(sha256(convert_to(cast({{ expr }} as {{ meta_type_text() }}), 'UTF8')), 'hex')
{%- endmacro %}


{#- _prehashed(): the stripped value lowercased when it is 64 hex digits (already a SHA-256), else NULL. -#}
{% macro meta_prehashed(expr) -%}
    {{ return(adapter.dispatch('meta_prehashed')(expr)) }}
{%- endmacro %}

{% macro default__meta_prehashed(expr) -%}
    case when {{ meta__regexp_full_match(meta_trim(expr), '[0-9a-fA-F]{64}') }} then lower({{ meta_trim(expr) }}) end
{%- endmacro %}


{#- ---- helpers: the keys of the lookup tables ------------------------------------------------ -#}

{#-
    _key(): casefold, NFKD (per character, from seed unicode_key_folding: marks end up apart
    from their letter), a leading "the " dropped, letters and digits (str.isalnum) only.
    '' for a text without any; NULL for NULL.
-#}
{% macro meta__lookup_key(text_expr) -%}
    {%- set space = meta__regex_class('whitespace') -%}
    {{ meta__keep_characters(
        meta__regexp_replace_all(meta__fold_characters(text_expr, 'key_folded'), '^' ~ space ~ '*the' ~ space ~ '+', ''),
        'alphanumeric'
    ) }}
{%- endmacro %}

{#- _exact_key(): casefold, NFC, letters, digits and combining marks only. -#}
{% macro meta__exact_lookup_key(text_expr) -%}
    {{ meta__keep_characters(meta__nfc(meta__fold_characters(text_expr, 'casefolded')), 'alphanumeric_or_mark') }}
{%- endmacro %}


{#- ---- helpers: Python's string functions ------------------------------------------------------ -#}

{#-
    A pattern written for DuckDB (RE2, Python's syntax) as a PostgreSQL ARE: \x{hex} as \U and
    eight hex digits, (?s:...) as (?:...) (an ARE's dot matches a newline anyway), and with
    anchored=true wrapped in ^(?:...)$, after any leading (?flags), which an ARE takes only first.
-#}
{% macro meta__postgres_regex(pattern, anchored=false) -%}
    {%- set pieces = pattern.split('\\x{') -%}
    {%- set ns = namespace(text=pieces[0]) -%}
    {%- for piece in pieces[1:] -%}
        {%- set code, rest = piece.split('}', 1) -%}
        {%- set ns.text = ns.text ~ ('\\U%08x' % (code | int(base=16))) ~ rest -%}
    {%- endfor -%}
    {%- set text = ns.text | replace('(?s:', '(?:') -%}
    {%- set flags = modules.re.match('^\\(\\?[a-z]+\\)', text) -%}
    {%- set prefix = flags.group(0) if flags else '' -%}
    {%- set body = text[prefix | length:] -%}
    {{- return(prefix ~ ('^(?:' ~ body ~ ')$' if anchored else body)) -}}
{%- endmacro %}

{#- _keep()'s first step: NFC(NFC(text).lower()). -#}
{% macro meta__nfc_lower(expr) -%}
    {{ meta__nfc(meta__python_lower(meta__nfc(expr))) }}
{%- endmacro %}

{#- A regex character class of Python's (text_character_classes.sql), plus literal `extra` characters. -#}
{% macro meta__regex_class(name, negate=false, extra='') -%}
    {{ return(adapter.dispatch('meta__regex_class')(name, negate, extra)) }}
{%- endmacro %}

{#- The class, each code point written with the engine's `code_point` format (a % format). -#}
{% macro meta__regex_class_of(name, negate, extra, code_point) -%}
    {%- set parts = [] -%}
    {%- for low, high in meta__character_class_ranges(name) -%}
        {%- if low == high -%}
            {%- do parts.append(code_point % low) -%}
        {%- else -%}
            {%- do parts.append(code_point % low ~ '-' ~ code_point % high) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for character in extra -%}
        {%- do parts.append('\\' ~ character) -%}
    {%- endfor -%}
    {{- return('[' ~ ('^' if negate else '') ~ parts | join('') ~ ']') -}}
{%- endmacro %}

{% macro default__meta__regex_class(name, negate=false, extra='') -%}
    {{- return(meta__regex_class_of(name, negate, extra, '\\x{%x}')) -}}
{%- endmacro %}

{#- PostgreSQL's regexes (AREs) write a code point as \U and exactly eight hex digits. -#}
{% macro postgres__meta__regex_class(name, negate=false, extra='') -%}
    {{- return(meta__regex_class_of(name, negate, extra, '\\U%08x')) -}}
{%- endmacro %}

{#- str.strip() with the characters of a class (a regex: DuckDB's trim() with a set of characters is 7x slower). -#}
{% macro meta__strip_characters(expr, class_name) -%}
    {%- set characters = meta__regex_class(class_name) -%}
    {{ meta__regexp_replace_all(expr, '^' ~ characters ~ '+|' ~ characters ~ '+$', '') }}
{%- endmacro %}

{#- Drop every character outside a class. -#}
{% macro meta__keep_characters(expr, class_name) -%}
    {{ meta__regexp_replace_all(expr, meta__regex_class(class_name, negate=true) ~ '+', '') }}
{%- endmacro %}

{% macro meta__regexp_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('meta__regexp_replace_all')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__meta__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ meta_sql_string(pattern) }}, {{ meta_sql_string(replacement) }}, 'g')
{%- endmacro %}

{% macro postgres__meta__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ meta_sql_string(meta__postgres_regex(pattern)) }}, {{ meta_sql_string(replacement) }}, 'g')
{%- endmacro %}

{% macro meta__regexp_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('meta__regexp_full_match')(expr, pattern)) }}
{%- endmacro %}

{% macro default__meta__regexp_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, {{ meta_sql_string(pattern) }})
{%- endmacro %}

{#- An ARE matches anywhere: anchored on both ends, after any leading (?flags). -#}
{% macro postgres__meta__regexp_full_match(expr, pattern) -%}
    ({{ expr }} ~ {{ meta_sql_string(meta__postgres_regex(pattern, anchored=true)) }})
{%- endmacro %}

{% macro meta__nfc(expr) -%}
    {{ return(adapter.dispatch('meta__nfc')(expr)) }}
{%- endmacro %}

{% macro default__meta__nfc(expr) -%}
    nfc_normalize({{ expr }})
{%- endmacro %}

{#- Needs a UTF8 database. -#}
{% macro postgres__meta__nfc(expr) -%}
    normalize({{ expr }}, NFC)
{%- endmacro %}

{#-
    Python's str.lower(). DuckDB's lower() maps each code point by itself, as Python does but
    for two rules: U+0130 (İ) becomes 'i' + U+0307, and a capital sigma at the end of a word
    (a cased letter before it, none after, case-ignorable characters skipped) becomes 'ς'.
-#}
{% macro meta__python_lower(expr) -%}
    {{ return(adapter.dispatch('meta__python_lower')(expr)) }}
{%- endmacro %}

{% macro default__meta__python_lower(expr) -%}
    {%- set cased = meta__character_class_ranges('final_sigma_preceders') -%}
    {%- set before = meta__regex_class('final_sigma_preceders') -%}
    {%- set ignorable = meta__regex_class('case_ignorable') -%}
    {#- Neither cased nor case-ignorable: the two classes' ranges in one negated class. -#}
    {%- set other = '[^' ~ before[1:-1] ~ ignorable[1:-1] ~ ']' -%}
    {%- set final_sigma = '(' ~ before ~ ignorable ~ '*)Σ(' ~ ignorable ~ '*(?:' ~ other ~ '|$))' -%}
    lower(replace(
        regexp_replace({{ expr }}, {{ meta_sql_string(final_sigma) }}, '\1ς\2', 'g'),
        'İ', 'i' || chr(775)
    ))
{%- endmacro %}

{#- Each character replaced by its folding (column of seed unicode_key_folding), or kept. -#}
{% macro meta__fold_characters(expr, folding_column) -%}
    {{ return(adapter.dispatch('meta__fold_characters')(expr, folding_column)) }}
{%- endmacro %}

{% macro default__meta__fold_characters(expr, folding_column) -%}
    (
        select string_agg(coalesce(folding.folded, text_characters.character), '' order by text_characters.position)
        from (
            select
                unnest(string_split(fold_text, '')) as character,
                generate_subscripts(string_split(fold_text, ''), 1) as position
            from (select {{ expr }} as fold_text)
            where fold_text <> ''
        ) as text_characters
        left join (
            select
                chr(code_point) as character,
                array_to_string(list_transform(string_split({{ folding_column }}, ' '), lambda code: chr(cast(code as integer))), '') as folded
            from {{ ref('unicode_key_folding') }}
        ) as folding on folding.character = text_characters.character
    )
{%- endmacro %}

{#- The same join, with PostgreSQL's set-returning functions (one row per character, in order). -#}
{% macro postgres__meta__fold_characters(expr, folding_column) -%}
    (
        select string_agg(coalesce(folding.folded, text_characters.character), '' order by text_characters.position)
        from string_to_table({{ expr }}, null) with ordinality as text_characters (character, position)
        left join lateral (
            select (
                select string_agg(chr(cast(codes.code as integer)), '' order by codes.code_position)
                from string_to_table(unicode_key_folding.{{ folding_column }}, ' ') with ordinality as codes (code, code_position)
            ) as folded
            from {{ ref('unicode_key_folding') }} as unicode_key_folding
            where unicode_key_folding.code_point = ascii(text_characters.character)
        ) as folding on true
    )
{%- endmacro %}

{#-
    date.fromisoformat, then datetime.fromisoformat (Python 3.11) of a trimmed text, as DATE or
    NULL: YYYY-MM-DD, YYYYMMDD, the ISO week forms YYYY-Www[-D] / YYYYWww[D], and a date of the
    first two forms followed by any one character and a time HH[:MM[:SS[.f...]]] (or without
    colons) with an optional offset (Z, +HH, +HHMM, +HH:MM). Impossible dates are NULL. Python
    accepts rarer forms too (times after week dates, offsets with seconds): those are NULL here.
-#}
{% macro meta__date_from_iso_text(text_expr) -%}
    {{ return(adapter.dispatch('meta__date_from_iso_text')(text_expr)) }}
{%- endmacro %}

{#- The two regexes every engine's variant reads a date with (same syntax in RE2, PostgreSQL's
    ARE and Java): (calendar, week). -#}
{% macro meta__iso_date_patterns() -%}
    {%- set hour = '(?:[01][0-9]|2[0-3])' -%}
    {%- set sixty = '[0-5][0-9]' -%}
    {%- set fraction = '(?:[.,][0-9]+)?' -%}
    {%- set time_colons = hour ~ '(?::' ~ sixty ~ '(?::' ~ sixty ~ fraction ~ ')?)?' -%}
    {%- set time_plain = hour ~ '(?:' ~ sixty ~ '(?:' ~ sixty ~ fraction ~ ')?)?' -%}
    {%- set offset = '(?:Z|[+-]' ~ hour ~ '(?::?' ~ sixty ~ ')?)?' -%}
    {%- set time = '(?:(?s:.)(?:' ~ time_colons ~ '|' ~ time_plain ~ ')' ~ offset ~ ')?' -%}
    {%- set calendar = '([0-9]{4})-([0-9]{2})-([0-9]{2})' ~ time ~ '|([0-9]{4})([0-9]{2})([0-9]{2})' ~ time -%}
    {%- set week = '([0-9]{4})-W([0-9]{2})(?:-([1-7]))?|([0-9]{4})W([0-9]{2})([1-7])?' -%}
    {{ return((calendar, week)) }}
{%- endmacro %}

{% macro default__meta__date_from_iso_text(text_expr) -%}
    {%- set calendar, week = meta__iso_date_patterns() -%}
    {%- set week_year = "try_cast(regexp_extract(" ~ text_expr ~ ", '^([0-9]{4})', 1) as integer)" -%}
    {%- set week_number = "try_cast(regexp_extract(" ~ text_expr ~ ", 'W([0-9]{2})', 1) as integer)" -%}
    {%- set week_day = "coalesce(try_cast(regexp_extract(" ~ text_expr ~ ", 'W[0-9]{2}-?([1-7])$', 1) as integer), 1)" -%}
    {#- The Monday of ISO week 1 is the Monday of the week of January 4th. -#}
    {%- set january_4 = 'make_date(' ~ week_year ~ ', 1, 4)' -%}
    {%- set week_date -%}
        cast({{ january_4 }} + cast(({{ week_number }} - 1) * 7 + ({{ week_day }} - 1) - (isodow({{ january_4 }}) - 1) as integer) as date)
    {%- endset -%}
    case
        when {{ meta__regexp_full_match(text_expr, calendar) }} then try_cast(
            {{ meta__regexp_replace_all(text_expr, '^([0-9]{4})-?([0-9]{2})-?([0-9]{2})(?s:.*)$', '\\1-\\2-\\3') }} as date
        )
        {#- Week 53 of a year without one ends up in the next ISO year: rejected, as Python does. -#}
        when {{ meta__regexp_full_match(text_expr, week) }} and {{ week_year }} >= 1
            and {{ week_number }} between 1 and 53 and isoyear({{ week_date }}) = {{ week_year }}
            then {{ week_date }}
    end
{%- endmacro %}

{#- The same rules; PostgreSQL has no try_cast, so the calendar date is checked before it is cast. -#}
{% macro postgres__meta__date_from_iso_text(text_expr) -%}
    {%- set calendar, week = meta__iso_date_patterns() -%}
    {%- set week_year = "cast(substring(" ~ text_expr ~ " from '^([0-9]{4})') as integer)" -%}
    {%- set week_number = "cast(substring(" ~ text_expr ~ " from 'W([0-9]{2})') as integer)" -%}
    {%- set week_day = "coalesce(cast(substring(" ~ text_expr ~ " from 'W[0-9]{2}-?([1-7])$') as integer), 1)" -%}
    {%- set january_4 = 'make_date(' ~ week_year ~ ', 1, 4)' -%}
    {%- set week_date -%}
        ({{ january_4 }} + cast(({{ week_number }} - 1) * 7 + ({{ week_day }} - 1) - (extract(isodow from {{ january_4 }}) - 1) as integer))
    {%- endset -%}
    {%- set calendar_text = meta__regexp_replace_all(text_expr, '^([0-9]{4})-?([0-9]{2})-?([0-9]{2})(?s:.*)$', '\\1-\\2-\\3') -%}
    case
        when {{ meta__regexp_full_match(text_expr, calendar) }} then {{ meta_try_cast_date(calendar_text) }}
        when {{ meta__regexp_full_match(text_expr, week) }} and {{ week_year }} >= 1
            and {{ week_number }} between 1 and 53 and extract(isoyear from {{ week_date }}) = {{ week_year }}
            then {{ week_date }}
    end
{%- endmacro %}


{#- ---- Spark ------------------------------------------------------------------------------------

    Java's regexes read the patterns above as RE2 does (\x{hex} code points, classes, groups),
    but for line ends, hence (?d) first (only a line feed ends a line), and full matches end in
    \z (Java's $ also matches before a final line feed). A replacement writes group n as $n.
    Spark has no Unicode normalization of its own: NFC, NFKD and case folding are ICU4J's
    (inside Spark 4's jars), called with reflect(). ICU knows a later Unicode than Python 3.11
    (16 rather than 14): text with characters assigned since may fold or compose differently.
-#}

{% macro spark__meta__regex_class(name, negate=false, extra='') -%}
    {{ return(default__meta__regex_class(name, negate, extra)) }}
{%- endmacro %}

{% macro spark__meta__regexp_replace_all(expr, pattern, replacement) -%}
    {%- set java_replacement = modules.re.sub('\\\\([0-9])', '$\\1', replacement | replace('$', '\\$')) -%}
    regexp_replace({{ expr }}, {{ meta_sql_string('(?d)' ~ pattern) }}, {{ meta_sql_string(java_replacement) }})
{%- endmacro %}

{% macro spark__meta__regexp_full_match(expr, pattern) -%}
    ({{ expr }} rlike {{ meta_sql_string('(?d)^(?:' ~ pattern ~ ')\\z') }})
{%- endmacro %}

{#- ICU's Normalizer.compose(text, compat=false) is NFC. -#}
{% macro spark__meta__nfc(expr) -%}
    case when {{ expr }} is not null then reflect('com.ibm.icu.text.Normalizer', 'compose', {{ expr }}, false) end
{%- endmacro %}

{#- Python's two rules applied first, as on DuckDB; every other capital sigma is made a small
    one before lower(), so Java's own final-sigma rule never decides. -#}
{% macro spark__meta__python_lower(expr) -%}
    {%- set before = meta__regex_class('final_sigma_preceders') -%}
    {%- set ignorable = meta__regex_class('case_ignorable') -%}
    {%- set other = '[^' ~ before[1:-1] ~ ignorable[1:-1] ~ ']' -%}
    {%- set final_sigma = '(' ~ before ~ ignorable ~ '*)Σ(' ~ ignorable ~ '*(?:' ~ other ~ '|$))' -%}
    lower(replace(replace(
        {{ meta__regexp_replace_all(expr, final_sigma, '\\1ς\\2') }},
        'Σ', 'σ'), 'İ', 'i̇'
    ))
{%- endmacro %}

{#-
    The seed's per-character foldings as ICU's: `casefolded` is UCharacter.foldCase(text, true)
    (full case folding, Python's casefold()), `key_folded` Normalizer.decompose(that, true)
    (NFKD). Spark cannot join a table to each character inside an expression (no subquery in
    a lambda); ICU folds the whole text, which is what tests/reference_normalize.py does too.
    '' and NULL are NULL, as on DuckDB.
-#}
{% macro spark__meta__fold_characters(expr, folding_column) -%}
    {%- set casefolded = "reflect('com.ibm.icu.lang.UCharacter', 'foldCase', " ~ expr ~ ", true)" -%}
    case when {{ expr }} <> '' then
    {%- if folding_column == 'casefolded' %}
        {{ casefolded }}
    {%- elif folding_column == 'key_folded' %}
        reflect('com.ibm.icu.text.Normalizer', 'decompose', {{ casefolded }}, true)
    {%- else -%}
        {{ exceptions.raise_compiler_error('unknown folding column ' ~ folding_column) }}
    {%- endif %}
    end
{%- endmacro %}

{% macro spark__meta_sha256(expr) -%}
    sha2(cast({{ expr }} as string), 256)
{%- endmacro %}

{% macro spark__meta_normalize_birthdate(expr) -%}
    {%- set birthdate = meta__date_from_iso_text(meta_trim(expr)) -%}
    case when year({{ birthdate }}) >= 1900 then date_format({{ birthdate }}, 'yyyyMMdd') end
{%- endmacro %}

{#- A correlated subquery cannot hold the key's expression on Spark: the seed as a map, once. -#}
{% macro spark__meta__us_state_code(state_text) -%}
    try_element_at(
        (select map_from_entries(collect_list(struct(lookup_key, state_code))) from {{ ref('us_states') }}),
        {{ meta__lookup_key(state_text) }}
    )
{%- endmacro %}

{#- As DuckDB's; Spark's try_cast reads the same 'YYYY-MM-DD' (NULL for an impossible date). -#}
{% macro spark__meta__date_from_iso_text(text_expr) -%}
    {%- set calendar, week = meta__iso_date_patterns() -%}
    {%- set week_year = "try_cast(regexp_extract(" ~ text_expr ~ ", '^([0-9]{4})', 1) as integer)" -%}
    {%- set week_number = "try_cast(regexp_extract(" ~ text_expr ~ ", 'W([0-9]{2})', 1) as integer)" -%}
    {%- set week_day = "coalesce(try_cast(regexp_extract(" ~ text_expr ~ ", '(?d)W[0-9]{2}-?([1-7])$', 1) as integer), 1)" -%}
    {%- set january_4 = 'make_date(' ~ week_year ~ ', 1, 4)' -%}
    {%- set week_date -%}
        date_add({{ january_4 }}, cast(({{ week_number }} - 1) * 7 + ({{ week_day }} - 1) - (extract(dayofweek_iso from {{ january_4 }}) - 1) as integer))
    {%- endset -%}
    case
        when {{ meta__regexp_full_match(text_expr, calendar) }} then try_cast(
            {{ meta__regexp_replace_all(text_expr, '^([0-9]{4})-?([0-9]{2})-?([0-9]{2})(?s:.*)$', '\\1-\\2-\\3') }} as date
        )
        when {{ meta__regexp_full_match(text_expr, week) }} and {{ week_year }} >= 1
            and {{ week_number }} between 1 and 53 and extract(yearofweek from {{ week_date }}) = {{ week_year }}
            then {{ week_date }}
    end
{%- endmacro %}
