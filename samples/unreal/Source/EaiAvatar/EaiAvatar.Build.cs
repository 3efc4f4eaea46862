// The module links gRPC and protobuf as third-party libraries (see README for where they come from).
using System.IO;
using UnrealBuildTool;

public class EaiAvatar : ModuleRules
{
    public EaiAvatar(ReadOnlyTargetRules Target) : base(Target)
    {
        PCHUsageMode = PCHUsageMode.UseExplicitOrSharedPCHs;
        PublicDependencyModuleNames.AddRange(new[] { "Core", "CoreUObject", "Engine", "AudioMixer" });
        PrivateDependencyModuleNames.AddRange(new[] { "ImageWrapper" });
        // A gRPC build for your platform, e.g. vcpkg's `grpc` or a plugin that packages it (TurboLink, ...):
        // its include folder, the generated stubs (Generated/) and its static libraries.
        string ThirdParty = Path.Combine(ModuleDirectory, "..", "..", "ThirdParty", "grpc");
        PublicIncludePaths.Add(Path.Combine(ThirdParty, "include"));
        PublicIncludePaths.Add(Path.Combine(ModuleDirectory, "Generated"));
        foreach (string Library in Directory.GetFiles(Path.Combine(ThirdParty, "lib"), "*.lib"))
            PublicAdditionalLibraries.Add(Library);
        foreach (string Library in Directory.GetFiles(Path.Combine(ThirdParty, "lib"), "*.a"))
            PublicAdditionalLibraries.Add(Library);
        PublicDefinitions.Add("GOOGLE_PROTOBUF_NO_RTTI=1");
    }
}
