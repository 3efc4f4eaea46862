// The HTTP/2 handler gRPC needs in Unity. With Cysharp's YetAnotherHttpHandler installed (see README) this
// returns it; change this one function to use another HTTP/2 handler.
using System.Net.Http;

public static class EaiAvatarHttp
{
    public static HttpMessageHandler CreateHandler()
    {
        return new Cysharp.Net.Http.YetAnotherHttpHandler { Http2Only = true };
    }
}
