"""The theme's Jinja environment: templates' globals are a plain copy, taken once the plugins have set them."""

from __future__ import annotations

import jinja2
import pytest

from plugins.render.themeenv import flatten_globals


def environment(**templates: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.DictLoader(templates))
    flatten_globals(env)
    return env


def test_includes_imports_and_macros_see_the_globals_set_before_the_first_template() -> None:
    env = environment(
        page="{% import 'lang.html' as lang %}{{ lang.t('titre') }} {% include 'part.html' %}",
        **{"lang.html": "{% macro t(key) %}{{ words[key] }}{% endmacro %}", "part.html": "{{ site }}/{{ local }}"},
    )
    env.globals.update(words={"titre": "Boîte à outils"}, site="APMSL")
    assert env.get_template("page").render(local="ici") == "Boîte à outils APMSL/ici"
    assert type(env.get_template("page").globals) is dict


def test_changing_the_globals_once_a_template_is_loaded_fails_instead_of_being_ignored() -> None:
    env = environment(page="{{ site }}")
    env.globals["site"] = "APMSL"
    env.get_template("page")
    for change in (
        lambda g: g.update(site="autre"),
        lambda g: g.__setitem__("site", "autre"),
        lambda g: g.setdefault("nouveau", 1),
        lambda g: g.pop("site"),
        lambda g: g.clear(),
    ):
        with pytest.raises(RuntimeError, match="after a template was loaded"):
            change(env.globals)
    assert env.get_template("page").render() == "APMSL"
