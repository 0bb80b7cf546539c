"""The command line's JSON is grpcurl's: key names and order, numbers and escapes as Go's."""

from __future__ import annotations

import json

import pytest

from textlens._json import go_float, go_string
from textlens._output import to_json
from textlens.v1 import analysis_pb2, batch_pb2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (0.0, "0"),
        (-0.5, "-0.5"),
        (100.0, "100"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (3.2e-05, "3.2e-05"),
        (0.9187000000000001, "0.9187000000000001"),
        (1e21, "1e+21"),
        (float("nan"), '"NaN"'),
        (float("-inf"), '"-Infinity"'),
    ],
)
def test_numbers_are_written_as_go_formats_them(value: float, expected: str) -> None:
    assert go_float(value) == expected


def test_strings_are_escaped_as_go_escapes_them() -> None:
    assert (
        go_string('<b> & "x"\u2028\t\x01é') == '"\\u003cb\\u003e \\u0026 \\"x\\"\\u2028\\t\\u0001é"'
    )


def test_a_message_is_printed_with_json_names_in_field_number_order_without_defaults() -> None:
    analysis = analysis_pb2.Analysis(
        id="a1", analysis_type=analysis_pb2.ANALYSIS_TYPE_QUALITY, batch_item=0
    )
    analysis.quality.word_count = 8
    analysis.quality.lexical_diversity = 8.0
    analysis.quality.syllable_count = 11  # a later field number than analyzer
    analysis.quality.analyzer.name = "readability"
    analysis.create_time.FromMilliseconds(1_700_000_000_123)
    text = to_json(analysis, pretty=True)
    assert text == (
        "{\n"
        '  "id": "a1",\n'
        '  "analysisType": "ANALYSIS_TYPE_QUALITY",\n'
        '  "quality": {\n'
        '    "wordCount": 8,\n'
        '    "lexicalDiversity": 8,\n'
        '    "analyzer": {\n'
        '      "name": "readability"\n'
        "    },\n"
        '    "syllableCount": 11\n'
        "  },\n"
        '  "createTime": "2023-11-14T22:13:20.123Z",\n'
        '  "batchItem": 0\n'
        "}"
    )
    assert json.loads(to_json(analysis, pretty=False)) == json.loads(text)
    assert " " not in to_json(batch_pb2.Batch(id="b", total_count=2), pretty=False)


def test_an_empty_message_keeps_its_inner_line_as_grpcurl_prints_it() -> None:
    analysis = analysis_pb2.Analysis(id="a1")
    analysis.emotion.SetInParent()
    assert to_json(analysis, pretty=True) == '{\n  "id": "a1",\n  "emotion": {\n    \n  }\n}'
