// EAI-Avatar's page: one WebRTC connection to the runtime (video: both avatars side by side; audio: their voices;
// data channel "events": JSON both ways). No framework, nothing from a CDN. State a test can read is kept on
// window.eaiAvatar.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const video = $("avatars"), voices = $("voices"), captions = $("captions"), line = $("line");
  const micButton = $("mic"), statusText = $("status"), notice = $("notice");
  const state = { state: "connecting", sessionId: "", human: "", agent: "", events: [], captions: [],
                  emotions: {}, maxLevel: 0, level: 0 };
  window.eaiAvatar = state;

  const setStatus = (text) => { state.state = text; statusText.textContent = text; };
  const params = new URLSearchParams(location.search);
  const pc = new RTCPeerConnection({ iceServers: [] });
  const channel = pc.createDataChannel("events");
  pc.addTransceiver("video", { direction: "recvonly" });
  // Send-and-receive from the start, so the microphone's track can be put on it later without renegotiating.
  const micTransceiver = pc.addTransceiver("audio", { direction: "sendrecv" });
  let microphone = null;
  let meterContext = null;

  const send = (message) => { if (channel.readyState === "open") channel.send(JSON.stringify(message)); };

  pc.ontrack = (event) => {
    const stream = new MediaStream([event.track]);
    if (event.track.kind === "video") {
      video.srcObject = stream;
    } else {
      voices.srcObject = stream;
      watchLevel(stream);
    }
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected") setStatus("connected");
    if (pc.connectionState === "failed" || pc.connectionState === "closed") setStatus(pc.connectionState);
  };

  // The voices' loudness, for the meter (and for a test: proof that sound arrives and plays).
  function watchLevel(stream) {
    const AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!AudioContext) return;
    const context = new AudioContext();
    meterContext = context;
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let peak = 0;
      for (const s of samples) peak = Math.max(peak, Math.abs(s));
      state.level = peak;
      state.maxLevel = Math.max(state.maxLevel, peak);
      $("level").style.width = `${Math.min(100, peak * 200)}%`;
      requestAnimationFrame(tick);
    };
    context.resume().then(tick);
  }

  function addCaption(message) {
    const last = captions.lastElementChild;
    // A transcript of the person's voice grows while they talk: its newer version replaces the older one.
    if (last && last.dataset.partial === "1" && last.dataset.speaker === message.speaker) last.remove();
    const row = document.createElement("div");
    row.className = message.final ? "caption" : "caption partial";
    row.dataset.speaker = message.speaker;
    row.dataset.partial = message.final ? "0" : "1";
    const who = document.createElement("span");
    who.className = "speaker";
    who.textContent = message.speaker === state.human ? `${message.speaker} (you)` : message.speaker;
    const words = document.createElement("span");
    words.className = "words";
    words.textContent = message.text;
    row.append(who, words);
    captions.append(row);
    captions.scrollTop = captions.scrollHeight;
    state.captions.push({ speaker: message.speaker, text: message.text, final: message.final });
  }

  channel.onmessage = (event) => {
    const message = JSON.parse(event.data);
    state.events.push(message);
    switch (message.type) {
      case "started":
        state.sessionId = message.session_id;
        state.human = message.human;
        state.agent = message.agent;
        $("human-name").textContent = `${message.human} (you)`;
        $("agent-name").textContent = message.agent;
        for (const control of [line, $("send"), $("interrupt")]) control.disabled = false;
        micButton.disabled = !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
        break;
      case "caption":
        addCaption(message);
        break;
      case "emotion":
        state.emotions[message.avatar] = message.emotion;
        $(message.avatar === state.human ? "human-emotion" : "agent-emotion").textContent = message.emotion;
        break;
      case "notice":
        notice.textContent = message.message;
        break;
      case "ended":
        setStatus(`ended: ${message.reason}`);
        break;
    }
  };

  $("talk").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = line.value.trim();
    if (!text) return;
    notice.textContent = "";
    send({ type: "say", text });
    line.value = "";
  });
  $("interrupt").addEventListener("click", () => send({ type: "interrupt" }));
  // Browsers hold back sound until the person has touched the page: the first touch lets the voices play.
  const unlock = () => { voices.play().catch(() => {}); if (meterContext) meterContext.resume(); };
  document.addEventListener("click", unlock, { once: true });
  document.addEventListener("keydown", unlock, { once: true });

  // The microphone: on, its track goes on the audio transceiver and the runtime hears it (voice activity and
  // speech recognition end each utterance); off, the track is taken off and the utterance ends.
  micButton.addEventListener("click", async () => {
    if (microphone) {
      await micTransceiver.sender.replaceTrack(null);
      microphone.getTracks().forEach((track) => track.stop());
      microphone = null;
      micButton.classList.remove("on");
      send({ type: "mic_off" });
      return;
    }
    try {
      microphone = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true } });
    } catch (error) {
      notice.textContent = `no microphone: ${error.message}`;
      return;
    }
    await micTransceiver.sender.replaceTrack(microphone.getAudioTracks()[0]);
    micButton.classList.add("on");
    send({ type: "mic_on" });
  });

  async function connect() {
    await pc.setLocalDescription(await pc.createOffer());
    // Every candidate in the offer (no trickle): wait until gathering is done, or a second has passed.
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 1000);
    });
    const body = { type: "offer", sdp: pc.localDescription.sdp };
    if (params.get("size")) body.size = Number(params.get("size"));
    if (params.get("characters")) body.characters = params.get("characters").split(",");
    const response = await fetch("offer", { method: "POST", headers: { "Content-Type": "application/json" },
                                            body: JSON.stringify(body) });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    await pc.setRemoteDescription(answer);
  }

  connect().catch((error) => { setStatus("failed"); notice.textContent = String(error.message || error); });
})();
