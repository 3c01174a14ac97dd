"""The Go encoders: BurntSushi TOML v0.3.1 and encoding/json (spec/kata-env.md 3 and 6)."""
from __future__ import annotations

import json
import tomllib

from hypothesis import given
from hypothesis import strategies as st

from katacfg.reports.goencode import NIL, json_string, output_bytes, to_json, to_toml


def test_plain_keys_come_before_sub_tables():
    data = {"Runtime": {"Version": {"OCI": "1.0.1-dev"}, "Config": {"Path": "/c"}, "Debug": False,
                        "Path": "/x"}}
    assert to_toml(data) == (
        "[Runtime]\n"
        "  Debug = false\n"
        '  Path = "/x"\n'
        "  [Runtime.Version]\n"
        '    OCI = "1.0.1-dev"\n'
        "  [Runtime.Config]\n"
        '    Path = "/c"\n'
    )


def test_blank_line_before_top_level_tables_except_the_first():
    out = to_toml({"Meta": {"Version": "1"}, "Image": {"Path": ""}})
    assert out == '[Meta]\n  Version = "1"\n\n[Image]\n  Path = ""\n'


def test_indentation_two_spaces_per_level():
    out = to_toml({"A": {"B": {"C": {"k": 1}}}})
    assert out == "[A]\n  [A.B]\n    [A.B.C]\n      k = 1\n"


def test_nil_list_is_omitted_and_empty_list_is_written():
    assert to_toml({"R": {"Experimental": NIL, "Path": ""}}) == '[R]\n  Path = ""\n'
    assert to_toml({"R": {"Experimental": [], "Path": ""}}) == '[R]\n  Experimental = []\n  Path = ""\n'


def test_array_of_tables_after_sub_tables_each_after_a_blank_line():
    data = {"Runtime": {
        "Version": {"OCI": "1"}, "Config": {"Path": "/c"}, "Debug": False,
        "Experimental": [{"Name": "newstore", "Description": "d", "ExpRelease": "2.0"},
                         {"Name": "x", "Description": "e", "ExpRelease": "3"}],
        "Path": "/p"}}
    assert to_toml(data) == (
        "[Runtime]\n  Debug = false\n  Path = \"/p\"\n"
        "  [Runtime.Version]\n    OCI = \"1\"\n"
        "  [Runtime.Config]\n    Path = \"/c\"\n"
        "\n  [[Runtime.Experimental]]\n    Name = \"newstore\"\n    Description = \"d\"\n"
        "    ExpRelease = \"2.0\"\n"
        "\n  [[Runtime.Experimental]]\n    Name = \"x\"\n    Description = \"e\"\n"
        "    ExpRelease = \"3\"\n"
    )


def test_toml_escapes_only_five_characters():
    out = to_toml({"T": {"s": 'a\tb\nc\rd"e\\f\x01g<&>'}})
    assert out == '[T]\n  s = "a\\tb\\nc\\rd\\"e\\\\f\x01g<&>"\n'


def test_toml_quotes_keys_that_are_not_bare():
    assert to_toml({"a b": {"k.x": 1}}) == '[\"a b\"]\n  "k.x" = 1\n'


def test_toml_writes_booleans_integers_and_big_unsigned_integers():
    out = to_toml({"T": {"b": True, "n": 18446744073709551615, "z": 0}})
    assert out == "[T]\n  b = true\n  n = 18446744073709551615\n  z = 0\n"


def test_json_is_indented_with_two_spaces_and_ends_with_a_newline():
    assert to_json({"A": {"B": 1, "C": [1, 2]}, "D": []}) == (
        '{\n  "A": {\n    "B": 1,\n    "C": [\n      1,\n      2\n    ]\n  },\n  "D": []\n}\n')


def test_json_nil_is_null_and_empty_struct_is_braces():
    assert to_json({"E": NIL, "S": {}}) == '{\n  "E": null,\n  "S": {}\n}\n'


def test_json_escapes_html_and_line_separators_like_go():
    assert json_string("<<unknown>>") == '"\\u003c\\u003cunknown\\u003e\\u003e"'
    assert json_string("a&b") == '"a\\u0026b"'
    assert json_string("\u2028\u2029") == '"\\u2028\\u2029"'
    assert json_string("\n\r\t\"\\") == '"\\n\\r\\t\\"\\\\"'
    assert json_string("\x00\x08\x0c\x1f\x7f") == '"\\u0000\\u0008\\u000c\\u001f\x7f"'


def test_bytes_that_are_not_utf8_round_trip_in_toml_and_become_fffd_in_json():
    s = b"v\xff1".decode("utf-8", "surrogateescape")
    assert output_bytes(to_toml({"T": {"s": s}})) == b'[T]\n  s = "v\xff1"\n'
    assert to_json({"s": s}) == '{\n  "s": "v\\ufffd1"\n}\n'


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_scalar = st.one_of(st.booleans(), st.integers(min_value=0, max_value=2**64 - 1), _text)
_key = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)


@given(st.dictionaries(_key, st.dictionaries(_key, _scalar, max_size=6), min_size=1, max_size=5))
def test_json_output_parses_back_to_the_same_data(data):
    assert json.loads(to_json(data)) == data


@given(st.dictionaries(_key, st.dictionaries(
    _key, st.one_of(st.booleans(), st.integers(min_value=0, max_value=2**63 - 1),
                    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)),
    max_size=6), min_size=1, max_size=5))
def test_toml_output_parses_back_to_the_same_data(data):
    assert tomllib.loads(to_toml(data)) == data
