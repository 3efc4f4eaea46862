// The gRPC stream runs on a worker thread (FRunnable) and hands events to the game thread through a lock-free
// queue; TickComponent applies them. The stubs are generated from proto/eai_avatar/v1 (see README).
#include "EaiAvatarStreamComponent.h"

#include "Components/SkeletalMeshComponent.h"
#include "Containers/Queue.h"
#include "Engine/Texture2D.h"
#include "HAL/RunnableThread.h"
#include "IImageWrapper.h"
#include "IImageWrapperModule.h"
#include "Modules/ModuleManager.h"
#include "Sound/SoundWaveProcedural.h"

THIRD_PARTY_INCLUDES_START
#include <grpcpp/grpcpp.h>

#include "eai_avatar/v1/service.grpc.pb.h"
THIRD_PARTY_INCLUDES_END

namespace v1 = eai_avatar::v1;

class FEaiAvatarWorker : public FRunnable {
 public:
  FEaiAvatarWorker(const UEaiAvatarStreamComponent& Owner)
      : Target(TCHAR_TO_UTF8(*Owner.Target)), Token(TCHAR_TO_UTF8(*Owner.Token)), Turns(Owner.Turns) {
    for (const FString& Name : Owner.Characters) Characters.push_back(TCHAR_TO_UTF8(*Name));
  }

  TQueue<v1::ServerEvent, EQueueMode::Spsc> Events;

  virtual uint32 Run() override {
    grpc::ChannelArguments Arguments;
    Arguments.SetMaxReceiveMessageSize(32 << 20);
    auto Stub = v1::AvatarService::NewStub(
        grpc::CreateCustomChannel(Target, grpc::InsecureChannelCredentials(), Arguments));
    auto Authorize = [this](grpc::ClientContext& Context) {
      if (!Token.empty()) Context.AddMetadata("authorization", "Bearer " + Token);
    };
    v1::CreateSessionRequest Request;
    for (const auto& Name : Characters) Request.add_characters()->set_identity(Name);
    Request.mutable_output()->set_pacing(v1::PACING_REAL_TIME);
    Request.mutable_output()->set_image_encoding(v1::IMAGE_ENCODING_JPEG);
    grpc::ClientContext CreateContext;
    Authorize(CreateContext);
    v1::CreateSessionResponse Session;
    if (!Stub->CreateSession(&CreateContext, Request, &Session).ok()) return 1;

    Authorize(StreamContext);
    auto Stream = Stub->Converse(&StreamContext);
    v1::ClientEvent Attach, Advance;
    Attach.mutable_attach()->set_session_id(Session.session_id());
    Advance.mutable_advance()->set_turns(Turns);
    Stream->Write(Attach);
    Stream->Write(Advance);
    v1::ServerEvent Event;
    while (!bStopping && Stream->Read(&Event)) Events.Enqueue(Event);
    Stream->Finish();
    return 0;
  }

  virtual void Stop() override {
    bStopping = true;
    StreamContext.TryCancel();  // unblocks Read
  }

 private:
  std::string Target, Token;
  std::vector<std::string> Characters;
  int32 Turns;
  grpc::ClientContext StreamContext;
  TAtomic<bool> bStopping{false};
};

UEaiAvatarStreamComponent::UEaiAvatarStreamComponent() { PrimaryComponentTick.bCanEverTick = true; }

void UEaiAvatarStreamComponent::BeginPlay() {
  Super::BeginPlay();
  Voice = NewObject<USoundWaveProcedural>(this);
  Voice->SetSampleRate(16000);
  Voice->NumChannels = 1;
  Voice->bLooping = false;
  Worker = MakeUnique<FEaiAvatarWorker>(*this);
  Thread = FRunnableThread::Create(Worker.Get(), TEXT("EaiAvatarStream"));
}

void UEaiAvatarStreamComponent::EndPlay(const EEndPlayReason::Type Reason) {
  if (Worker) Worker->Stop();
  if (Thread) {
    Thread->WaitForCompletion();
    delete Thread;
    Thread = nullptr;
  }
  Worker.Reset();
  Super::EndPlay(Reason);
}

void UEaiAvatarStreamComponent::TickComponent(float DeltaTime, ELevelTick TickType,
                                              FActorComponentTickFunction* ThisTickFunction) {
  Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
  if (!Worker) return;
  const std::string Mine = TCHAR_TO_UTF8(*Avatar);
  v1::ServerEvent Event;
  while (Worker->Events.Dequeue(Event)) {
    if (Event.has_turn_started()) {
      const auto& Turn = Event.turn_started();
      OnTurnStarted.Broadcast(UTF8_TO_TCHAR(Turn.speaker().c_str()), UTF8_TO_TCHAR(Turn.text().c_str()),
                              UTF8_TO_TCHAR(Turn.speaker_accumulated().label().c_str()));
    } else if (Event.has_frame() && Event.frame().avatar() == Mine) {
      const auto& Frame = Event.frame();
      if (!Frame.image().empty()) {  // JPEG -> BGRA8 -> the texture
        auto& Images = FModuleManager::LoadModuleChecked<IImageWrapperModule>(TEXT("ImageWrapper"));
        TSharedPtr<IImageWrapper> Jpeg = Images.CreateImageWrapper(EImageFormat::JPEG);
        TArray<uint8> Pixels;
        if (Jpeg->SetCompressed(Frame.image().data(), Frame.image().size()) &&
            Jpeg->GetRaw(ERGBFormat::BGRA, 8, Pixels)) {
          if (!Texture) Texture = UTexture2D::CreateTransient(Frame.width(), Frame.height(), PF_B8G8R8A8);
          void* Mip = Texture->GetPlatformData()->Mips[0].BulkData.Lock(LOCK_READ_WRITE);
          FMemory::Memcpy(Mip, Pixels.GetData(), Pixels.Num());
          Texture->GetPlatformData()->Mips[0].BulkData.Unlock();
          Texture->UpdateResource();
        }
      }
      if (Face) {
        for (const auto& [Name, Weight] : Frame.blendshapes())  // ARKit names as morph target names
          Face->SetMorphTarget(FName(UTF8_TO_TCHAR(Name.c_str())), Weight);
      }
      const FString Emotion = UTF8_TO_TCHAR(Frame.emotion().c_str());
      if (Emotion != LastEmotion) {
        LastEmotion = Emotion;
        OnEmotionChanged.Broadcast(Emotion);
      }
    } else if (Event.has_audio() && Event.audio().avatar() == Mine) {
      const std::string& Pcm = Event.audio().audio().samples();
      Voice->QueueAudio(reinterpret_cast<const uint8*>(Pcm.data()), Pcm.size());
    }
  }
}
