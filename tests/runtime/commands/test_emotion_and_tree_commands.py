"""The `emotion`, `tree` and `bench emotion` commands as a user runs them."""

import io
import json
import subprocess
import sys

import pytest

from eai_avatar.cli import main
from eai_avatar.runtime.emotion import EmotionHead
from eai_avatar.runtime.store import SessionRecord, SqliteStore
from eai_avatar.vocabulary import EMOTIONS
from tests.runtime.itt.conftest import build_three_rounds


def test_emotion_json_lines(capsys):
    assert main(["emotion", "--json", "We won the championship, I'm over the moon!", "The shop shuts at six."]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["emotion"] for r in records] == ["happy", "neutral"]
    for record in records:
        assert set(record) == {"text", "emotion", "confidence", "distribution"}
        assert list(record["distribution"]) == list(EMOTIONS)
        assert record["confidence"] == max(record["distribution"].values())


def test_emotion_reads_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("There's mould all over the bread, gross.\n\nI'm so scared.\n"))
    assert main(["emotion", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("disgusted") and lines[1].startswith("fear")


@pytest.mark.parametrize(
    "argv", [["emotion", "   "], ["emotion", "-", "hello"], ["emotion", "--head", "/nope.npz", "hi"]]
)
def test_emotion_bad_input_exits_2_with_a_message(argv, capsys):
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_shipped_head_meets_the_accuracy_goal_on_heldout(capsys):
    # A guard on the shipped asset, not a timing: the held-out figure in the README must stay true.
    assert main(["eval", "emotion", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lines"] >= 200 and report["accuracy"] >= 0.70


@pytest.fixture
def stored_session(tmp_path):
    path = tmp_path / "conv.db"
    with SqliteStore(path) as store:
        store.create_session(SessionRecord("s1", ("ada", "bo"), 0, {"propagation": {"current_node_only": True}}))
        store.create_session(SessionRecord("s2", ("ada", "bo"), 0, {}))
        tree = build_three_rounds()
        store.append_nodes("s1", tree.nodes)
        store.append_nodes("s2", tree.nodes)
    return path


def test_tree_json_uses_the_sessions_propagation_options(stored_session, capsys):
    assert main(["tree", "s1", "--db", str(stored_session), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["propagation"]["current_node_only"] is True
    assert data["nodes"][2]["accumulated"]["label"] == "happy"  # v3's own emotion under the ablation
    assert main(["tree", "s2", "--db", str(stored_session), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["nodes"][2]["accumulated"]["label"] == "sad"  # the paper's Q: history wins
    v5 = data["nodes"][4]
    assert (v5["state"], v5["depth"], v5["parent"], v5["left_sibling"], v5["right_sibling"], v5["child"]) == (
        "speak", 3, 4, 0, 6, 0,
    )  # fmt: skip


def test_tree_text(stored_session, capsys):
    assert main(["tree", "s2", "--db", str(stored_session)]) == 0
    out = capsys.readouterr().out
    assert "6 nodes in 3 rounds" in out
    assert "v5 D=3 speak  ada: psi=angry P=0.80 -> Q=happy" in out


def test_tree_errors(stored_session, tmp_path, capsys):
    assert main(["tree", "nope", "--db", str(stored_session)]) == 2
    assert "no session 'nope'" in capsys.readouterr().err
    assert main(["tree", "s1", "--db", str(tmp_path / "missing.db")]) == 2
    assert "no conversation store" in capsys.readouterr().err


def test_bench_emotion_json():
    out = subprocess.run(
        [sys.executable, "-m", "eai_avatar", "bench", "emotion", "--repeats", "2", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out)
    assert result["benchmark"] == "emotion" and result["calls"] == 16
    assert 0 < result["single_ms_median"] < 1000


def test_train_emotion_writes_a_working_head(tmp_path, capsys):
    out = tmp_path / "head.npz"
    corpus = tmp_path / "corpus.tsv"
    assert (
        main(
            [
                "train",
                "emotion",
                "--per-emotion",
                "12",
                "--steps",
                "60",
                "--out",
                str(out),
                "--dump-corpus",
                str(corpus),
            ]
        )
        == 0
    )
    metadata = EmotionHead.load(out).metadata
    # the dump is what training saw: 12 per emotion less the lines dropped as near copies of held-out lines
    assert metadata["lines"] + metadata["decontamination"]["dropped"] == 12 * 8
    assert corpus.read_text().count("\n") == 1 + metadata["lines"]
    capsys.readouterr()
    assert main(["emotion", "--head", str(out), "--json", "Thank you so much, this is the best gift ever!"]) == 0
    assert json.loads(capsys.readouterr().out)["emotion"] in EMOTIONS


def test_group_without_target_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "eai_avatar", "train"], capture_output=True, text=True)
    assert result.returncode == 2 and "TARGET" in result.stderr
