"""`eai-avatar bench` with no target runs every benchmark and writes one Markdown table."""

import json

from eai_avatar.cli import main
from eai_avatar.runtime.commands import bench_all

FAKE = {
    "bench_emotion": {"single_ms_median": 3.2},
    "bench_crhmg": {"ms_per_second_median": 17.1},
    "bench_audio2exp": {"ms_per_audio_second_median": 0.8},
    "bench_renderer": {"frames_per_second": 140.0},
    "bench_runtime": {"first_frame_ms_median": 93.0, "real_time_factor": 0.7, "sessions_at_real_time": 1,
                      "server_rss_mb_1_session": 361.0, "server_rss_mb_per_further_session": 5.2},
}  # fmt: skip


def test_bench_without_a_target_runs_them_all(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_run(module, argv):
        calls.append((module, argv))
        return FAKE[module]

    monkeypatch.setattr(bench_all, "_run", fake_run)
    table = tmp_path / "bench.md"
    assert main(["bench", "--markdown", str(table)]) == 0
    text = table.read_text()
    assert "| renderer 256x256, batch 1 | 140.0 frames/s | >= 50 frames/s |" in text
    assert "| server: a turn's text to its first frame | 93.0 ms | < 300 ms |" in text
    assert "| server: memory with one session | 361.0 MB | <= 400 MB |" in text
    assert capsys.readouterr().out == text
    assert [m for m, _ in calls].count("bench_renderer") == 2 and len(calls) == 6
    assert main(["bench", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runtime"]["sessions_at_real_time"] == 1
