"""An Audio2Face-3D client built only from NVIDIA's PyPI stubs (nvidia-ace, nvidia-audio2face-3d), never from this
project's code: what a pipeline made for NVIDIA's NIM would send. The A2F test runs it against our server.

    python a2f_nvidia_client.py PORT SCENARIOS.json   ->  one JSON object per scenario on stdout (a JSON list)
"""

import hashlib
import json
import sys
import wave

import grpc
from nvidia_ace import animation_pb2, audio_pb2, status_pb2
from nvidia_audio2face_3d import audio2face_pb2, messages_pb2
from nvidia_audio2face_3d.audio2face_pb2_grpc import A2FControllerServiceStub


def requests(scenario):
    with wave.open(scenario["wav"], "rb") as wav:
        rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
        pcm = wav.readframes(wav.getnframes())
    audio_header = audio_pb2.AudioHeader(
        audio_format=audio_pb2.AudioHeader.AUDIO_FORMAT_PCM,
        channel_count=scenario.get("channels", channels),
        samples_per_second=rate,
        bits_per_sample=width * 8,
    )
    post = messages_pb2.EmotionPostProcessingParameters(**scenario.get("post", {}))
    header = messages_pb2.AudioWithEmotionStreamHeader(
        audio_header=audio_header,
        face_params=messages_pb2.FaceParameters(float_params=scenario.get("face", {})),
        emotion_post_processing_params=post,
        blendshape_params=messages_pb2.BlendShapeParameters(
            bs_weight_multipliers=scenario.get("multipliers", {}),
            bs_weight_offsets=scenario.get("offsets", {}),
            enable_clamping_bs_weight=scenario.get("clamp", False),
        ),
        emotion_params=messages_pb2.EmotionParameters(beginning_emotion=scenario.get("emotion", {})),
    )
    yield messages_pb2.AudioWithEmotionStream(audio_stream_header=header)
    # NVIDIA's pacing advice: one 500 ms chunk first, then small ones.
    first, step = rate * width, rate * width // 10
    bounds = [0, first, *range(first + step, len(pcm), step), len(pcm)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        if end > start:
            yield messages_pb2.AudioWithEmotionStream(
                audio_with_emotion=messages_pb2.AudioWithEmotion(audio_buffer=pcm[start:end])
            )
    yield messages_pb2.AudioWithEmotionStream(end_of_audio=messages_pb2.AudioWithEmotionStream.EndOfAudio())


def run(stub, scenario):
    result = {
        "names": [],
        "time_codes": [],
        "weights": [],
        "audio_bytes": 0,
        "emotions": [],
        "events": [],
        "statuses": [],
        "code": "OK",
        "details": "",
    }
    try:
        for reply in stub.ProcessAudioStream(requests(scenario), timeout=120):
            part = reply.WhichOneof("stream_part")
            if part == "animation_data_stream_header":
                head = reply.animation_data_stream_header
                result["names"] = list(head.skel_animation_header.blend_shapes)
                result["echo_rate"] = head.audio_header.samples_per_second
            elif part == "animation_data":
                data = reply.animation_data
                for weights in data.skel_animation.blend_shape_weights:
                    result["time_codes"].append(weights.time_code)
                    result["weights"].append(list(weights.values))
                result["audio_bytes"] += len(data.audio.audio_buffer)
                if "emotion_aggregate" in data.metadata:
                    aggregate = messages_pb2.EmotionAggregate()
                    data.metadata["emotion_aggregate"].Unpack(aggregate)
                    result["emotions"].append(
                        {
                            "input": dict(aggregate.input_emotions[0].emotion),
                            "used": dict(aggregate.a2f_smoothed_output[0].emotion),
                        }
                    )
            elif part == "event":
                result["events"].append(messages_pb2.EventType.Name(reply.event.event_type))
            elif part == "status":
                result["statuses"].append([status_pb2.Status.Code.Name(reply.status.code), reply.status.message])
    except grpc.RpcError as error:
        result["code"], result["details"] = error.code().name, error.details()
    return result


def main():
    port, scenarios = sys.argv[1], json.loads(open(sys.argv[2]).read())
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = A2FControllerServiceStub(channel)
        results = [run(stub, scenario) for scenario in scenarios]
    descriptors = {
        m.DESCRIPTOR.name: hashlib.sha256(m.DESCRIPTOR.serialized_pb).hexdigest()
        for m in (animation_pb2, audio_pb2, status_pb2, messages_pb2, audio2face_pb2)
    }
    ours = sorted(name for name in sys.modules if name.startswith("eai_avatar"))
    json.dump({"results": results, "descriptors": descriptors, "project_modules": ours}, sys.stdout)


if __name__ == "__main__":
    main()
