using System.Runtime.InteropServices;
using System.Text;

namespace Attend.Cli.Speech;

/// <summary>One phoneme of a synthesized utterance: espeak's name for it (e.g. "E", "A@", "u:"), the index of the word it
/// belongs to, and its start in milliseconds from the start of the audio.</summary>
public sealed record Phone(string Name, int Word, double StartMs);

/// <summary>espeak-ng's output for one text: 16-bit samples as floats at <paramref name="Rate"/> Hz, and the phonemes.</summary>
public sealed record Synthesized(float[] Samples, int Rate, Phone[] Phones, int WordCount);

/// <summary>
/// espeak-ng through libespeak-ng.so.1 (P/Invoke, synchronous mode). Initialized with espeakINITIALIZE_PHONEME_EVENTS, so
/// the synth callback receives, next to the audio, an event for every word (espeakEVENT_WORD) and every phoneme
/// (espeakEVENT_PHONEME, its start as audio_position in ms) — the ground truth for alignment. The library is not
/// thread-safe: every call holds one lock. The library's path can be overridden with ATTEND_ESPEAK_LIBRARY.
/// </summary>
public static unsafe class Espeak
{
    public const string InstallHint = "apt-get install -y espeak-ng libespeak-ng1";
    const int AudioOutputSynchronous = 2, InitializePhonemeEvents = 0x0001, InitializeDontExit = 0x8000;
    const int EventWord = 1, EventPhoneme = 7, CharsUtf8 = 1, PosCharacter = 1, ParamRate = 1, ParamPitch = 3;

    [StructLayout(LayoutKind.Sequential)]
    struct Event
    {
        public int Type; public uint UniqueIdentifier; public int TextPosition, Length, AudioPosition, Sample;
        public nint UserData; public fixed byte Id[8];
    }

    static readonly object Gate = new();
    static bool initialized;
    static int sampleRate;
    static delegate* unmanaged<int, int, byte*, int, int> initialize;
    static delegate* unmanaged<byte*, int> setVoiceByName;
    static delegate* unmanaged<int, int, int, int> setParameter;
    static delegate* unmanaged<byte*, nuint, uint, int, uint, uint, uint*, void*, int> synth;
    static delegate* unmanaged<int> synchronize;
    static delegate* unmanaged<uint, void> srand;
    static delegate* unmanaged<delegate* unmanaged<short*, int, Event*, int>, void> setSynthCallback;
    static List<float>? samples;
    static List<(int Type, int TextPosition, int Ms, string Name)>? events;

    [UnmanagedCallersOnly]
    static int Callback(short* wav, int n, Event* ev)
    {
        if (wav != null) for (int i = 0; i < n; i++) samples!.Add(wav[i] / 32768f);
        for (; ev != null && ev->Type != 0; ev++)
            if (ev->Type is EventWord or EventPhoneme)
                events!.Add((ev->Type, ev->TextPosition, ev->AudioPosition, ev->Type == EventPhoneme ? Utf8(ev->Id) : ""));
        return 0;
    }

    static string Utf8(byte* p)
    {
        int n = 0;
        while (n < 8 && p[n] != 0) n++;
        return Encoding.UTF8.GetString(p, n);
    }

    /// <summary>Loads the library and initializes it once; throws with the apt command when espeak-ng is missing.</summary>
    static void Init()
    {
        if (initialized) return;
        string lib = Environment.GetEnvironmentVariable("ATTEND_ESPEAK_LIBRARY") ?? "libespeak-ng.so.1";
        if (!NativeLibrary.TryLoad(lib, out var h))
            throw new SpeechException($"espeak-ng is not installed (cannot load {lib}); install it with: {InstallHint}");
        nint Get(string name) => NativeLibrary.TryGetExport(h, name, out var f) ? f
            : throw new SpeechException($"{lib} has no {name}: is it espeak-ng? ({InstallHint})");
        initialize = (delegate* unmanaged<int, int, byte*, int, int>)Get("espeak_Initialize");
        setVoiceByName = (delegate* unmanaged<byte*, int>)Get("espeak_SetVoiceByName");
        setParameter = (delegate* unmanaged<int, int, int, int>)Get("espeak_SetParameter");
        synth = (delegate* unmanaged<byte*, nuint, uint, int, uint, uint, uint*, void*, int>)Get("espeak_Synth");
        synchronize = (delegate* unmanaged<int>)Get("espeak_Synchronize");
        setSynthCallback = (delegate* unmanaged<delegate* unmanaged<short*, int, Event*, int>, void>)Get("espeak_SetSynthCallback");
        // espeak-ng draws from the C library's rand() (pitch flutter, noise): seeding it before each text makes the output
        // a function of (text, voice, rate, pitch) alone, which exact --resume needs
        srand = NativeLibrary.TryLoad("libc.so.6", out var libc) && NativeLibrary.TryGetExport(libc, "srand", out var f) ? (delegate* unmanaged<uint, void>)f : null;
        sampleRate = initialize(AudioOutputSynchronous, 0, null, InitializePhonemeEvents | InitializeDontExit);
        if (sampleRate <= 0) throw new SpeechException($"espeak-ng failed to initialize (its data files missing?); reinstall with: {InstallHint}");
        setSynthCallback(&Callback);
        initialized = true;
    }

    /// <summary>Throws the install hint when espeak-ng cannot be loaded.</summary>
    public static void EnsureAvailable() { lock (Gate) Init(); }

    /// <summary>
    /// Speaks <paramref name="text"/> (plain words separated by spaces) with <paramref name="voice"/> (e.g. "en-us+f3"),
    /// <paramref name="rate"/> words per minute (80…450) and <paramref name="pitch"/> (0…99, 50 normal). Pauses ("_") are not
    /// phonemes here; each phoneme belongs to the word at its event's text position.
    /// </summary>
    public static Synthesized Synthesize(string text, string voice, int rate, int pitch)
    {
        lock (Gate)
        {
            Init();
            var v = Encoding.UTF8.GetBytes(voice + "\0");
            fixed (byte* pv = v)
                if (setVoiceByName(pv) != 0) throw new SpeechException($"espeak-ng has no voice '{voice}'");
            setParameter(ParamRate, rate, 0);
            setParameter(ParamPitch, pitch, 0);
            (samples, events) = (new List<float>(48000), new List<(int, int, int, string)>());
            if (srand != null) srand(1);
            var t = Encoding.UTF8.GetBytes(text + "\0");
            int rc;
            fixed (byte* pt = t) rc = synth(pt, (nuint)t.Length, 0, PosCharacter, 0, CharsUtf8, null, null);
            if (rc != 0) throw new SpeechException($"espeak-ng could not speak '{text}' (error {rc})");
            synchronize();
            // each phoneme belongs to the last word starting at or before its text position (1-based characters)
            var starts = new List<int>();
            for (int i = 0; i < text.Length; i++) if (text[i] != ' ' && (i == 0 || text[i - 1] == ' ')) starts.Add(i + 1);
            var phones = new List<Phone>();
            foreach (var (type, position, ms, name) in events)
            {
                int word = starts.FindLastIndex(st => st <= position);
                if (type == EventPhoneme && word >= 0 && name.Length > 0 && !name.StartsWith('_')) phones.Add(new Phone(name, word, ms));
            }
            var result = new Synthesized(samples.ToArray(), sampleRate, phones.ToArray(), starts.Count);
            (samples, events) = (null, null);
            return result;
        }
    }
}
