import pytest

from relais.wording.rendering import MissingVariables, render, variables


def test_variables_in_order_of_first_appearance_without_duplicates():
    assert variables("{line} à {stop}, ligne {line}, fin {eta}") == ["line", "stop", "eta"]


def test_literal_braces_are_not_variables():
    assert variables("{{pas une variable}} mais {line}") == ["line"]
    assert render("{{ok}} {line}", {"line": "C4"}) == "{ok} C4"


def test_render_fills_every_occurrence():
    assert render("Ligne {line} : {cause}. Ligne {line}.", {"line": "C4", "cause": "grève"}) == (
        "Ligne C4 : grève. Ligne C4."
    )


@pytest.mark.parametrize("values", [{}, {"eta": ""}, {"eta": "   "}, {"eta": None}])
def test_missing_or_blank_value_names_the_variable(values):
    with pytest.raises(MissingVariables) as caught:
        render("Reprise prévue à {eta} sur {line}", values | {"line": "C4"})
    assert caught.value.names == ["eta"]
    assert "{eta}" in str(caught.value)


def test_every_missing_variable_is_named_at_once():
    with pytest.raises(MissingVariables) as caught:
        render("{line} {stop} {eta}", {"stop": "Jaurès"})
    assert caught.value.names == ["line", "eta"]


def test_values_are_inserted_as_text_never_reinterpreted():
    # A value that looks like a variable or a brace stays as typed.
    assert render("{cause}", {"cause": "{line} }} {{"}) == "{line} }} {{"


def test_uppercase_or_spaced_names_are_plain_text():
    assert variables("{Line} { line } {line}") == ["line"]
    assert render("{Line} {line}", {"line": "C4"}) == "{Line} C4"


def test_text_without_variables_renders_unchanged():
    assert render("Trafic normal.", {}) == "Trafic normal."
