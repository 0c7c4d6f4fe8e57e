{# INTERIM: replaced by the text and phone branches at merge; not for main. #}
{% macro meta_trim(e) %}nullif(trim(cast({{ e }} as varchar)), ''){% endmacro %}
{% macro meta_sha256(e) %}sha256({{ e }}){% endmacro %}
{% macro meta_prehashed(e) %}case when regexp_full_match({{ meta_trim(e) }}, '[0-9a-fA-F]{64}') then lower({{ meta_trim(e) }}) end{% endmacro %}
{% macro meta_normalize_email(e) %}case when regexp_full_match(lower({{ meta_trim(e) }}), '[^@\s]+@(?:[^@\s.]+\.)+[^@\s.]{2,}') then lower({{ meta_trim(e) }}) end{% endmacro %}
{% macro meta_normalize_name(e) %}nullif(regexp_replace(lower(nfc_normalize({{ meta_trim(e) }})), '[^\p{L}\p{M}\p{Nd}]', '', 'g'), ''){% endmacro %}
{% macro meta_normalize_city(e) %}nullif(regexp_replace(lower(nfc_normalize({{ meta_trim(e) }})), '[^\p{L}\p{M}]', '', 'g'), ''){% endmacro %}
{% macro meta_normalize_birthdate(e) %}strftime(try_cast({{ e }} as date), '%Y%m%d'){% endmacro %}
{% macro meta_normalize_gender(e) %}case lower({{ meta_trim(e) }}) when 'f' then 'f' when 'female' then 'f' when 'm' then 'm' when 'male' then 'm' end{% endmacro %}
{% macro meta_normalize_external_id(e) %}{{ meta_trim(e) }}{% endmacro %}
{% macro meta_normalize_country(e) %}case when length({{ meta_trim(e) }}) = 2 then lower({{ meta_trim(e) }}) end{% endmacro %}
{% macro meta_normalize_state(e, c) %}nullif(regexp_replace(lower({{ meta_trim(e) }}), '[^\p{L}\p{M}\p{Nd}]', '', 'g'), ''){% endmacro %}
{% macro meta_normalize_postal(e, c) %}case when {{ c }} = 'us' then left(regexp_replace({{ meta_trim(e) }}, '[\s\-]', '', 'g'), 5) else nullif(regexp_replace(lower({{ meta_trim(e) }}), '[\W_]+', '', 'g'), '') end{% endmacro %}
