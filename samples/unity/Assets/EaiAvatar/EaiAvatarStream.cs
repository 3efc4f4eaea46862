// EaiAvatarStream: plays one avatar of an EAI-Avatar conversation in Unity.
// Frames go to a Texture2D (show it on a RawImage or a material), ARKit blendshapes to a SkinnedMeshRenderer by
// name, the avatar's voice to an AudioSource; turn and emotion events are UnityEvents.
// The gRPC stream runs on a background task; everything that touches Unity objects happens in Update().
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using EaiAvatar.V1;
using Grpc.Core;
using Grpc.Net.Client;
using UnityEngine;
using UnityEngine.Events;

public class EaiAvatarStream : MonoBehaviour
{
    [Header("Server")]
    public string serverUrl = "http://127.0.0.1:50051";
    public string token = "";                      // for `eai-avatar serve --token`
    public string[] characters = { "ada", "bo" };  // the session's two identities
    public string avatar = "ada";                  // the one this component plays
    public int turns = 6;

    [Header("Outputs")]
    public Texture2D texture;                      // made at the stream's size if left empty
    public SkinnedMeshRenderer face;               // blendshapes by ARKit name (e.g. "jawOpen"); optional
    public AudioSource voice;                      // optional

    [Serializable] public class TurnEvent : UnityEvent<string, string, string> { } // speaker, text, emotion
    public TurnEvent onTurnStarted;
    public UnityEvent<string> onEmotion;           // the emotion this avatar's face shows now

    readonly ConcurrentQueue<ServerEvent> events = new ConcurrentQueue<ServerEvent>();
    readonly Queue<float> samples = new Queue<float>();  // voice, filled from Update, drained by the audio thread
    readonly Dictionary<string, int> blendshapeIndex = new Dictionary<string, int>();
    CancellationTokenSource stop;
    string lastEmotion = "";

    void Start()
    {
        if (face != null)
            for (int i = 0; i < face.sharedMesh.blendShapeCount; i++)
                blendshapeIndex[face.sharedMesh.GetBlendShapeName(i)] = i;
        if (voice != null)
        {
            // A streaming clip: Unity asks for samples as it plays and OnVoiceRead hands over what has arrived.
            voice.clip = AudioClip.Create("eai-avatar voice", 16000 * 60, 1, 16000, true, OnVoiceRead);
            voice.loop = true;
            voice.Play();
        }
        stop = new CancellationTokenSource();
        Task.Run(() => Run(stop.Token));
    }

    async Task Run(CancellationToken cancel)
    {
        // Unity's own HTTP stack has no HTTP/2: give GrpcChannel an HTTP/2 handler such as Cysharp's
        // YetAnotherHttpHandler (see README). On .NET 6+ outside Unity the default handler works.
        using var channel = GrpcChannel.ForAddress(serverUrl, new GrpcChannelOptions
        {
            HttpHandler = EaiAvatarHttp.CreateHandler(),
            MaxReceiveMessageSize = 32 << 20,
        });
        var client = new AvatarService.AvatarServiceClient(channel);
        var headers = new Metadata();
        if (!string.IsNullOrEmpty(token)) headers.Add("authorization", "Bearer " + token);

        var request = new CreateSessionRequest
        {
            Mode = Mode.AgentAgent,
            Output = new OutputOptions { Pacing = Pacing.RealTime, ImageEncoding = ImageEncoding.Jpeg },
        };
        foreach (var name in characters) request.Characters.Add(new Character { Identity = name });
        var session = await client.CreateSessionAsync(request, headers, cancellationToken: cancel);

        using var call = client.Converse(headers, cancellationToken: cancel);
        await call.RequestStream.WriteAsync(new ClientEvent { Attach = new Attach { SessionId = session.SessionId } });
        await call.RequestStream.WriteAsync(new ClientEvent { Advance = new Advance { Turns = (uint)turns } });
        try
        {
            while (await call.ResponseStream.MoveNext(cancel))
                events.Enqueue(call.ResponseStream.Current);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.Cancelled) { }
    }

    void Update()
    {
        while (events.TryDequeue(out var e))
        {
            switch (e.EventCase)
            {
                case ServerEvent.EventOneofCase.TurnStarted:
                    var turn = e.TurnStarted;
                    onTurnStarted?.Invoke(turn.Speaker, turn.Text, turn.SpeakerAccumulated.Label);
                    break;
                case ServerEvent.EventOneofCase.Frame when e.Frame.Avatar == avatar:
                    ShowFrame(e.Frame);
                    break;
                case ServerEvent.EventOneofCase.Audio when e.Audio.Avatar == avatar && voice != null:
                    var pcm = e.Audio.Audio.Samples.Span;
                    lock (samples)
                        for (int i = 0; i + 1 < pcm.Length; i += 2)
                            samples.Enqueue((short)(pcm[i] | (pcm[i + 1] << 8)) / 32768f);
                    break;
                case ServerEvent.EventOneofCase.Status:
                    Debug.LogWarning($"eai-avatar: {e.Status.Message}");
                    break;
            }
        }
    }

    void ShowFrame(Frame frame)
    {
        if (frame.Image.Length > 0)
        {
            if (texture == null) texture = new Texture2D((int)frame.Width, (int)frame.Height, TextureFormat.RGBA32, false);
            texture.LoadImage(frame.Image.ToByteArray());  // JPEG or PNG; LoadRawTextureData for RAW_RGBA
        }
        if (face != null)
            foreach (var pair in frame.Blendshapes)
                if (blendshapeIndex.TryGetValue(pair.Key, out var index))
                    face.SetBlendShapeWeight(index, pair.Value * 100f);  // ARKit 0..1 -> Unity 0..100
        if (frame.Emotion != lastEmotion)
        {
            lastEmotion = frame.Emotion;
            onEmotion?.Invoke(frame.Emotion);
        }
    }

    void OnVoiceRead(float[] data)
    {
        lock (samples)
            for (int i = 0; i < data.Length; i++)
                data[i] = samples.Count > 0 ? samples.Dequeue() : 0f;  // silence while the avatar listens
    }

    void OnDestroy() => stop?.Cancel();
}
