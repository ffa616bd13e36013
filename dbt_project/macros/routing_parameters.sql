{#- The routing figures the models price with, from the routing rules file
    (ops_actions/rules/routing_rules.yaml, or the file OMS_ROUTING_RULES names): every dbt
    invocation of the pipeline carries them as JSON in OMS_ROUTING_PARAMS
    (pipelines/transform/project.py `dbt_env`, built by ops_actions.routing.rules.dbt_parameters),
    so the router and the models read one file. Missing at run time is an error, never a silent
    default: a default here would be a second copy that drifts. -#}
{% macro routing_parameters() -%}
    {%- set raw = env_var('OMS_ROUTING_PARAMS', '') -%}
    {%- if raw == '' -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "OMS_ROUTING_PARAMS is not set: run dbt through the pipeline, or set it with "
                ~ "`export OMS_ROUTING_PARAMS=$(python -m pipelines.transform.project routing-params)`") }}
        {%- endif -%}
        {{ return({'service_levels': {'default': {'km_per_day': 1, 'cost_multiplier': 1}},
                   'shipping_per_kg_km': 0, 'shipping_min_per_unit': 0}) }}
    {%- endif -%}
    {{ return(fromjson(raw)) }}
{%- endmacro %}

{#- A CASE over `service_level` giving one figure of its level, `default` for any other. -#}
{% macro service_level_figure(service_level, figure) -%}
    {%- set levels = routing_parameters()['service_levels'] -%}
    case {{ service_level }}
    {%- for name, level in levels.items() if name != 'default' %}
        when '{{ name }}' then {{ level[figure] }}
    {%- endfor %}
        else {{ levels['default'][figure] }}
    end
{%- endmacro %}
