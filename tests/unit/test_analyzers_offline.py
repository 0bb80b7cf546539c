"""The analyzers load and run with no network: nothing is downloaded at run time."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from typing import Any, NoReturn

import pytest

from server.domain.analyzers import default_analyzers
from server.domain.analyzers.nrc_emotion import NrcEmotionAnalyzer
from server.domain.language import Cld2Detector
from server.domain.model import AnalysisType

TEXT = "I was scared at first 😱, but the ending made me very happy! Would watch again."


def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise OSError("network access attempted while analysing")


def test_all_analyzers_load_and_run_with_sockets_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    analyzers = default_analyzers()
    for analysis_type, analyzer in analyzers.items():
        result = analyzer.analyze(TEXT)
        assert result.analyzer == analyzer.info, analysis_type
    assert analyzers[AnalysisType.SENTIMENT].analyze(TEXT).sentences
    assert Cld2Detector().detect(TEXT).code == "en"
    assert Cld2Detector().detect("Me encanta este producto, funciona muy bien.").code == "es"


def test_a_fresh_process_loads_every_lexicon_offline_with_no_training_or_nrc_code() -> None:
    # A new interpreter proves the lexicons and the model are read from disk, not from an
    # earlier cache, that nothing on the way reaches for the network, and that the default
    # analyzers need neither the training libraries nor the research-only NRC lexicon.
    script = textwrap.dedent(
        f"""
        import socket, sys

        def refuse(*args, **kwargs):
            raise OSError("network access attempted")

        socket.socket.connect = socket.socket.connect_ex = refuse
        socket.getaddrinfo = socket.create_connection = refuse

        from server.domain.analyzers import default_analyzers

        from server.domain.language import Cld2Detector

        for analyzer in default_analyzers().values():
            analyzer.analyze({TEXT!r})
        assert Cld2Detector().detect({TEXT!r}).code == "en"
        leaked = sorted({{"textblob", "nltk", "nrclex", "sklearn", "scipy"}} & set(sys.modules))
        print("leaked:", leaked)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "leaked: []"


def test_nrc_emotion_needs_no_download_for_a_word_textblob_would_lemmatize(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert NrcEmotionAnalyzer().analyze("The wolves cried.").sadness > 0
