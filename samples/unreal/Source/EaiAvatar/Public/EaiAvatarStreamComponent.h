// UEaiAvatarStreamComponent: plays one avatar of an EAI-Avatar conversation on an actor.
// Frames go to a UTexture2D (bind it to a material), ARKit blendshapes to a skeletal mesh's morph targets by name,
// the voice to a USoundWaveProcedural; turn and emotion events are Blueprint delegates.
#pragma once

#include "Components/ActorComponent.h"
#include "CoreMinimal.h"
#include "HAL/Runnable.h"
#include "EaiAvatarStreamComponent.generated.h"

class USkeletalMeshComponent;
class USoundWaveProcedural;
class UTexture2D;
class FEaiAvatarWorker;

DECLARE_DYNAMIC_MULTICAST_DELEGATE_ThreeParams(FEaiTurnStarted, const FString&, Speaker, const FString&, Text,
                                               const FString&, Emotion);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FEaiEmotionChanged, const FString&, Emotion);

UCLASS(ClassGroup = (EaiAvatar), meta = (BlueprintSpawnableComponent))
class EAIAVATAR_API UEaiAvatarStreamComponent : public UActorComponent {
  GENERATED_BODY()

 public:
  UEaiAvatarStreamComponent();

  UPROPERTY(EditAnywhere, Category = "EAI-Avatar") FString Target = TEXT("127.0.0.1:50051");
  UPROPERTY(EditAnywhere, Category = "EAI-Avatar") FString Token;
  UPROPERTY(EditAnywhere, Category = "EAI-Avatar") TArray<FString> Characters = {TEXT("ada"), TEXT("bo")};
  UPROPERTY(EditAnywhere, Category = "EAI-Avatar") FString Avatar = TEXT("ada");
  UPROPERTY(EditAnywhere, Category = "EAI-Avatar") int32 Turns = 6;
  UPROPERTY(EditAnywhere, Category = "EAI-Avatar") USkeletalMeshComponent* Face = nullptr;

  UPROPERTY(BlueprintReadOnly, Category = "EAI-Avatar") UTexture2D* Texture = nullptr;
  UPROPERTY(BlueprintReadOnly, Category = "EAI-Avatar") USoundWaveProcedural* Voice = nullptr;
  UPROPERTY(BlueprintAssignable, Category = "EAI-Avatar") FEaiTurnStarted OnTurnStarted;
  UPROPERTY(BlueprintAssignable, Category = "EAI-Avatar") FEaiEmotionChanged OnEmotionChanged;

  virtual void BeginPlay() override;
  virtual void EndPlay(const EEndPlayReason::Type Reason) override;
  virtual void TickComponent(float DeltaTime, ELevelTick TickType,
                             FActorComponentTickFunction* ThisTickFunction) override;

 private:
  TUniquePtr<FEaiAvatarWorker> Worker;
  FRunnableThread* Thread = nullptr;
  FString LastEmotion;
};
