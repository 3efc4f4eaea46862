"""The Triton engine against a real tritonserver (PyTriton's, serving the shipped bundle's ONNX files through
onnxruntime on the CPU): the same results as in-process onnxruntime, the renderer batched across concurrent
callers, and a server that is missing, wrong or gone refused with a clear error."""

import threading

import grpc
import numpy as np
import pytest

from eai_avatar.runtime.bundle import Bundle, default_bundle_path
from eai_avatar.runtime.config import RuntimeConfig
from eai_avatar.runtime.engines.triton import TritonEngine, TritonModelMismatch
from eai_avatar.runtime.errors import EngineUnavailable
from eai_avatar.runtime.outputs.grpc import status_code
from tests.conftest import free_port

#: The issue's bound on Triton vs in-process results (measured: 0.0, the same kernels on the same inputs).
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def bundle():
    return Bundle(default_bundle_path())


def feeds(rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    """Inputs of each model's kind and range: masks and controls in [0, 1], unit noise, a one-hot emotion."""
    return {
        "crhmg_encoder": {"masks": rng.random((2, 1, 64, 64), dtype=np.float32)},
        "crhmg_generator": {
            "z1": rng.standard_normal((2, 256), dtype=np.float32),
            "eta": rng.standard_normal((2, 12, 256), dtype=np.float32),
            "eps": np.array([0.1, 0.5], np.float32),
        },
        "audio2exp": {
            "features": rng.standard_normal((1, 60, 320), dtype=np.float32),
            "emotion": np.eye(8, dtype=np.float32)[[3]],
        },
        "renderer": {
            "control": rng.random((6, 4, 256, 256), dtype=np.float32),
            "identity": np.array([0, 1, 2, 3, 0, 1], np.int64),
        },
    }


@pytest.mark.triton
def test_every_model_through_triton_equals_onnxruntime_in_process(bundle, triton_server):
    differences = {}
    for name, inputs in feeds(np.random.default_rng(0)).items():
        local = bundle.engine(name, threads=2)
        remote = bundle.engine(name, "triton", url=triton_server.url)
        assert remote.input_spec() == local.input_spec() and remote.output_spec() == local.output_spec()
        assert remote.metadata() == local.metadata()  # audio2exp's context_frames come from the manifest
        expected, got = local.run(inputs), remote.run(inputs)
        for output, value in expected.items():
            assert got[output].shape == value.shape and got[output].dtype == value.dtype
            differences[f"{name}.{output}"] = float(np.abs(got[output] - value).max())
    assert max(differences.values()) <= TOLERANCE, differences


@pytest.mark.triton
def test_renderer_requests_of_concurrent_callers_are_batched_and_answered_each_its_own(bundle, triton_server):
    """Eight callers (as eight sessions, or replicas) send one frame each at once: Triton's dynamic batcher runs
    them in fewer executions than requests, and each caller gets its own frame."""
    remote = bundle.engine("renderer", "triton", url=triton_server.url)
    local = bundle.engine("renderer", threads=2)
    rng = np.random.default_rng(1)
    requests = [{"control": rng.random((1, 4, 256, 256), dtype=np.float32), "identity": np.array([k % 4])}
                for k in range(8)]  # fmt: skip
    from tritonclient.grpc import InferenceServerClient

    client = InferenceServerClient(triton_server.url)

    def counts():
        stats = client.get_inference_statistics("renderer").model_stats[0]
        return stats.inference_count, stats.execution_count

    before = counts()
    answers: list = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def call(index: int) -> None:
        start.wait()
        answers[index] = remote.run(requests[index])["rgba"]

    callers = [threading.Thread(target=call, args=(k,)) for k in range(len(requests))]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(60)
    inferences, executions = (after - was for after, was in zip(counts(), before, strict=True))
    assert inferences == len(requests) and executions < inferences  # requests shared executions
    for request, answer in zip(requests, answers, strict=True):
        assert np.abs(answer - local.run(request)["rgba"]).max() <= TOLERANCE


@pytest.mark.triton
def test_a_batch_larger_than_the_server_takes_goes_in_slices(bundle, triton_server):
    remote = bundle.engine("renderer", "triton", url=triton_server.url)
    remote.max_batch_size = 4  # as a server configured with max_batch_size 4 would say
    inputs = feeds(np.random.default_rng(2))["renderer"]  # 6 frames: 4 + 2
    expected = bundle.engine("renderer", threads=2).run(inputs)["rgba"]
    assert np.abs(remote.run(inputs)["rgba"] - expected).max() <= TOLERANCE


@pytest.mark.triton
def test_a_served_model_with_other_tensors_is_refused_at_load_naming_them(bundle, triton_server):
    with pytest.raises(TritonModelMismatch) as refused:
        TritonEngine(bundle.path("audio2exp"), url=triton_server.url, model="renderer",
                     expected=bundle.models["audio2exp"])  # fmt: skip
    message = str(refused.value)
    assert "serves 'renderer' with other tensors" in message and "no input 'features'" in message
    assert "an input 'control' the bundle's model does not have" in message


@pytest.mark.triton
def test_a_model_the_server_does_not_have_is_unavailable(triton_server):
    with pytest.raises(EngineUnavailable, match="has no model 'no_such_model' ready"):
        TritonEngine(url=triton_server.url, model="no_such_model")


def test_an_unreachable_server_is_unavailable_at_load_with_its_address():
    url = f"127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(EngineUnavailable) as refused:
        TritonEngine(url=url, model="renderer", timeout_s=2)
    assert f"the Triton server at {url} is unreachable" in str(refused.value)
    assert status_code(refused.value) is grpc.StatusCode.UNAVAILABLE


def test_the_runtime_config_names_triton_per_model_with_its_url(tmp_path):
    config_file = tmp_path / "runtime.toml"
    config_file.write_text('[engines]\nrenderer = "triton"\n[triton]\nurl = "gpu-box:8001"\ntimeout_s = 3\n')
    config = RuntimeConfig.load(config_file, env={})
    assert config.engines["renderer"] == "triton" and config.engines["audio2exp"] == "onnxruntime"
    assert (config.triton.url, config.triton.timeout_s) == ("gpu-box:8001", 3.0)
    environment = {"EAI_AVATAR_TRITON_URL": "10.0.0.5:8001", "EAI_AVATAR_ENGINE_CRHMG_GENERATOR": "triton"}
    config = RuntimeConfig.load(config_file, env=environment, overrides={"engines.audio2exp": "triton"})
    assert config.triton.url == "10.0.0.5:8001"  # the environment over the file
    assert {m for m, backend in config.engines.items() if backend == "triton"} == {"renderer", "crhmg_generator",
                                                                                   "audio2exp"}  # fmt: skip
    assert RuntimeConfig.load(config_file, env=environment, overrides={"triton.url": "flag:1"}).triton.url == "flag:1"
    with pytest.raises(ValueError, match="triton.url is empty"):
        RuntimeConfig.from_dict({"triton": {"url": " "}})
    with pytest.raises(ValueError, match="unknown key"):
        RuntimeConfig.from_dict({"triton": {"adress": "x:1"}})
