// avatar_client: create a session on an EAI-Avatar server, stream one scripted turn, and write what comes back:
// every frame as a JPEG file and the speaker's voice as a WAV file, then a one-line JSON summary on stdout.
//
//   avatar_client TARGET OUT_DIR [CHARACTER TEXT] [TOKEN]
//   avatar_client 127.0.0.1:50051 out ada "Did you bring my camera back?"
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "eai_avatar/v1/service.grpc.pb.h"

namespace v1 = eai_avatar::v1;

namespace {

// A mono 16-bit PCM WAV file.
void WriteWav(const std::filesystem::path& path, const std::string& pcm, uint32_t sample_rate) {
  std::ofstream out(path, std::ios::binary);
  auto put32 = [&out](uint32_t value) { out.write(reinterpret_cast<const char*>(&value), 4); };
  auto put16 = [&out](uint16_t value) { out.write(reinterpret_cast<const char*>(&value), 2); };
  out.write("RIFF", 4);
  put32(36 + static_cast<uint32_t>(pcm.size()));
  out.write("WAVEfmt ", 8);
  put32(16);
  put16(1);  // PCM
  put16(1);  // mono
  put32(sample_rate);
  put32(sample_rate * 2);
  put16(2);
  put16(16);
  out.write("data", 4);
  put32(static_cast<uint32_t>(pcm.size()));
  out.write(pcm.data(), static_cast<std::streamsize>(pcm.size()));
}

int Fail(const std::string& what, const grpc::Status& status) {
  std::cerr << what << " failed: " << status.error_code() << " " << status.error_message() << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: avatar_client TARGET OUT_DIR [CHARACTER TEXT] [TOKEN]" << std::endl;
    return 2;
  }
  const std::string target = argv[1];
  const std::filesystem::path out_dir = argv[2];
  const std::string character = argc > 3 ? argv[3] : "ada";
  const std::string text = argc > 4 ? argv[4] : "Did you remember to bring my camera back?";
  const std::string token = argc > 5 ? argv[5] : "";
  std::filesystem::create_directories(out_dir);

  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(32 << 20);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments);
  auto stub = v1::AvatarService::NewStub(channel);
  auto authorize = [&token](grpc::ClientContext& context) {
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  };

  // Two characters: the speaker and the first other identity the server knows.
  grpc::ClientContext list_context;
  authorize(list_context);
  v1::ListIdentitiesResponse identities;
  grpc::Status status = stub->ListIdentities(&list_context, v1::ListIdentitiesRequest(), &identities);
  if (!status.ok()) return Fail("ListIdentities", status);
  std::string listener;
  for (const auto& identity : identities.identities()) {
    if (identity.name() != character) {
      listener = identity.name();
      break;
    }
  }

  v1::CreateSessionRequest create;
  create.add_characters()->set_identity(character);
  create.add_characters()->set_identity(listener);
  create.mutable_output()->set_pacing(v1::PACING_AS_FAST_AS_POSSIBLE);
  create.mutable_output()->set_image_encoding(v1::IMAGE_ENCODING_JPEG);
  create.set_seed(1);
  grpc::ClientContext create_context;
  authorize(create_context);
  v1::CreateSessionResponse session;
  status = stub->CreateSession(&create_context, create, &session);
  if (!status.ok()) return Fail("CreateSession", status);

  // The Converse stream: attach, one scripted line, then read until the turn ends.
  grpc::ClientContext converse_context;
  authorize(converse_context);
  auto stream = stub->Converse(&converse_context);
  v1::ClientEvent attach;
  attach.mutable_attach()->set_session_id(session.session_id());
  v1::ClientEvent line;
  line.mutable_scripted_line()->set_character(character);
  line.mutable_scripted_line()->set_text(text);
  if (!stream->Write(attach) || !stream->Write(line)) return Fail("Converse write", stream->Finish());

  std::map<std::string, int> frames_per_avatar;
  std::string voice;
  uint32_t sample_rate = 16000;
  std::string emotion;
  v1::ServerEvent event;
  bool ended = false;
  while (!ended && stream->Read(&event)) {
    switch (event.event_case()) {
      case v1::ServerEvent::kTurnStarted:
        emotion = event.turn_started().speaker_accumulated().label();
        break;
      case v1::ServerEvent::kFrame: {
        const auto& frame = event.frame();
        const auto name = frame.avatar() + "_" + std::to_string(frame.index()) + ".jpg";
        std::ofstream(out_dir / name, std::ios::binary) << frame.image();
        frames_per_avatar[frame.avatar()]++;
        break;
      }
      case v1::ServerEvent::kAudio:
        voice += event.audio().audio().samples();
        sample_rate = event.audio().audio().sample_rate() ? event.audio().audio().sample_rate() : 16000;
        break;
      case v1::ServerEvent::kStatus:
        std::cerr << "status: " << event.status().message() << std::endl;
        break;
      case v1::ServerEvent::kTurnEnded:
        ended = true;
        break;
      default:
        break;
    }
  }
  v1::ClientEvent end;
  end.mutable_end();
  stream->Write(end);
  stream->WritesDone();
  while (stream->Read(&event)) {
  }
  status = stream->Finish();
  if (!status.ok()) return Fail("Converse", status);
  WriteWav(out_dir / "voice.wav", voice, sample_rate);

  std::cout << "{\"session_id\": \"" << session.session_id() << "\", \"emotion\": \"" << emotion
            << "\", \"audio_samples\": " << voice.size() / 2 << ", \"frames\": {";
  bool first = true;
  for (const auto& [avatar, count] : frames_per_avatar) {
    std::cout << (first ? "" : ", ") << "\"" << avatar << "\": " << count;
    first = false;
  }
  std::cout << "}}" << std::endl;
  return ended ? 0 : 1;
}
