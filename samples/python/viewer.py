"""Watch a live conversation: frames in a window (OpenCV), paced in real time by the server.

    eai-avatar serve --port 50051 &
    python samples/python/viewer.py --target 127.0.0.1:50051 --turns 6

Without a display (or without `opencv-python`), it prints each turn and a line per second of video instead.
"""

import argparse
import os

import numpy as np

from eai_avatar import AvatarClient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument("--token")
    parser.add_argument("--characters", nargs=2, default=["ada", "bo"])
    parser.add_argument("--turns", type=int, default=6)
    args = parser.parse_args()
    try:
        import cv2
    except ImportError:
        cv2 = None
    window = cv2 is not None and bool(os.environ.get("DISPLAY") or os.name == "nt")

    with AvatarClient(args.target, token=args.token) as client:
        session = client.create_session(args.characters, output={"pacing": "real_time"})
        with client.converse(session.session_id) as conversation:
            conversation.advance(args.turns)
            latest, ended = {}, 0
            for event in conversation:
                kind = type(event).__name__
                if kind == "TurnStarted":
                    print(f"{event.speaker} -> {event.listener} ({event.speaker_accumulated.label}): {event.text}")
                elif kind == "Frame":
                    latest[event.avatar] = event.image[..., :3]
                    if len(latest) == 2 and window:
                        both = np.concatenate([latest[name] for name in args.characters], axis=1)
                        cv2.imshow("EAI-Avatar", cv2.cvtColor(both, cv2.COLOR_RGB2BGR))
                        if cv2.waitKey(1) == 27:  # Esc stops watching
                            break
                    elif event.index % 25 == 0 and event.avatar == args.characters[0]:
                        print(f"  t = {event.presentation_ms / 1000:.0f} s, {event.avatar} shows {event.emotion}")
                elif kind == "TurnEnded":
                    ended += 1
                    if ended == args.turns:
                        break


if __name__ == "__main__":
    main()
