"""The v1 wire contract has every message the issues promise, and round-trips."""

from eai_avatar.v1 import common_pb2, converse_pb2, service_pb2, session_pb2, tree_pb2


def test_service_methods():
    methods = {m.name: m for m in service_pb2.DESCRIPTOR.services_by_name["AvatarService"].methods}
    assert set(methods) == {"ListIdentities", "CreateSession", "Converse", "GetTree", "CloseSession"}
    converse = methods["Converse"]
    assert converse.client_streaming and converse.server_streaming
    assert not methods["CreateSession"].client_streaming


def test_client_and_server_events_cover_the_protocol():
    client = {f.name for f in converse_pb2.ClientEvent.DESCRIPTOR.oneofs_by_name["event"].fields}
    expected = {"attach", "user_text", "user_audio", "user_utterance_end", "scripted_line", "advance"}
    assert client == expected | {"interrupt", "end"}
    server = {f.name for f in converse_pb2.ServerEvent.DESCRIPTOR.oneofs_by_name["event"].fields}
    assert server == {"header", "turn_started", "frame", "audio", "turn_ended", "status", "end", "human_speech"}


def test_frame_round_trip():
    frame = converse_pb2.Frame(
        avatar="ada",
        index=7,
        presentation_ms=280,
        role=common_pb2.ROLE_LISTEN,
        emotion="happy",
        width=2,
        height=1,
        encoding=common_pb2.IMAGE_ENCODING_RAW_RGB,
        image=bytes(range(6)),
        blendshapes={"jawOpen": 0.25, "eyeBlinkLeft": 1.0},
        head_pose=common_pb2.HeadPose(yaw_deg=3.5, scale=1.0),
    )
    event = converse_pb2.ServerEvent(frame=frame)
    back = converse_pb2.ServerEvent.FromString(event.SerializeToString())
    assert back.WhichOneof("event") == "frame"
    assert back.frame == frame
    assert back.frame.blendshapes["jawOpen"] == 0.25


def test_output_channels_have_presence():
    options = session_pb2.OutputOptions()
    assert not options.HasField("include_images")  # unset means the default, on
    options.include_images = False
    assert options.HasField("include_images") and options.include_images is False


def test_tree_node_has_every_paper_field():
    fields = set(tree_pb2.TreeNode.DESCRIPTOR.fields_by_name)
    assert {
        "state",
        "emotion",
        "confidence",
        "parent",
        "child",
        "left_sibling",
        "right_sibling",
        "depth",
    } <= fields
