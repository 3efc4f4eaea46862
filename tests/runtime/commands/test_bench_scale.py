"""`eai-avatar bench scale` at the smallest scale: one live session for a few seconds, in process with the renderer
batcher off and on, and its report has every field the README's table is made from."""

from __future__ import annotations

import json

import pytest

from eai_avatar.cli import main
from eai_avatar.runtime.commands import bench_scale


def test_bench_scale_runs_one_session_and_reports_every_field(capsys):
    assert main(["bench", "scale", "--variants", "in-process,batched", "--sessions", "1", "--seconds", "2",
                 "--threads", "1", "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["benchmark"] == "scale" and result["seconds"] == 2 and result["lag_s"] == 1.0
    assert set(result["variants"]) == {"in-process", "batched"}
    for variant in result["variants"].values():
        live = variant["live"]["1"]
        assert set(live) >= {"held", "behind_s_max", "rtf_median", "first_frame_ms_median", "pause_ms_median",
                             "media_s_min", "errors"}  # fmt: skip
        assert live["errors"] == [] and live["media_s_min"] >= 2
        assert 0 < live["first_frame_ms_median"] < 10_000 and live["rtf_median"] > 0
        assert variant["throughput"]["1"] > 0 and variant["server_rss_mb"] > 50
        assert variant["sessions_held"] in (0, 1)
        assert variant["server_exit_codes"] == [0]  # SIGTERM: stopped in order, the batcher with it
    text = bench_scale.table(result)
    assert "live sessions held" in text and "| in-process | batched |" in text


BAD = [(["--variants", "gpu"], "gpu"), (["--sessions", "0"], "--sessions"), (["--sessions", "two"], "--sessions"),
       (["--seconds", "0"], "--seconds")]  # fmt: skip


@pytest.mark.parametrize(("flags", "named"), BAD)
def test_bench_scale_refuses_bad_arguments_by_name(flags, named, capsys):
    assert main(["bench", "scale", *flags]) == 2
    assert named in capsys.readouterr().err
