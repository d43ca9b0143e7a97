{# 'high' when the amount is at least `threshold`, else 'standard'. #}
{% macro priority(amount_column, threshold) -%}
CASE WHEN {{ amount_column }} >= {{ threshold }} THEN 'high' ELSE 'standard' END
{%- endmacro %}
