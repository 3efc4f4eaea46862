"""Record a conversation to MP4 with the Python SDK: both avatars side by side, with their voices.

eai-avatar serve --port 50051 &
python samples/python/record.py --target 127.0.0.1:50051 --turns 4 --out conversation.mp4
"""

import argparse

from eai_avatar import AvatarClient, save_mp4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument("--token", help="the server's bearer token, if it has one")
    parser.add_argument("--characters", nargs=2, default=["ada", "bo"])
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--out", default="conversation.mp4")
    args = parser.parse_args()

    with AvatarClient(args.target, token=args.token) as client:
        session = client.create_session(args.characters, output={"pacing": "as_fast_as_possible"})
        with client.converse(session.session_id) as conversation:
            conversation.advance(args.turns)

            def events():
                ended = 0
                for event in conversation:
                    yield event
                    if type(event).__name__ == "TurnStarted":
                        print(f"{event.speaker} ({event.speaker_accumulated.label}): {event.text}")
                    if type(event).__name__ == "TurnEnded":
                        ended += 1
                        if ended == args.turns:
                            return

            saved = save_mp4(events(), args.out)  # streams: the conversation is never held in memory
    print(f"wrote {saved.path}: {saved.duration_s:.1f} s, {saved.frames} frames, avatars {', '.join(saved.avatars)}")


if __name__ == "__main__":
    main()
