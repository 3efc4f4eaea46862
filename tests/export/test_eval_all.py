"""`eai-avatar eval` with no target needs the trained models and says which one is missing."""

from eai_avatar.cli import main


def test_eval_all_names_the_missing_model(tmp_path, capsys):
    (tmp_path / "crhmg").mkdir()
    assert main(["eval", "--data", str(tmp_path), "--models", str(tmp_path)]) == 2
    assert "audio2exp is missing" in capsys.readouterr().err
