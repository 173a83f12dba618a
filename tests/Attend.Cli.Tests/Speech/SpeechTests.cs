using Attend.Cli.Speech;
using Attend.IO;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>A tiny speech model trained in-process on espeak-ng utterances, shared by the speech tests.</summary>
public sealed class TinySpeechRun : IDisposable
{
    public const int Steps = 30;
    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"attend-speech-{Guid.NewGuid():N}");
    public string Dir => Path.Combine(Root, "full");
    public SpeechTrainResult Result { get; }

    public TinySpeechRun()
    {
        Directory.CreateDirectory(Root);
        Result = Run(Dir, Steps);
    }

    /// <summary>The tiny run into <paramref name="dir"/>.</summary>
    public static SpeechTrainResult Run(string dir, int steps, bool resume = false, CancellationToken stop = default, Action<int>? afterStep = null) =>
        SpeechTraining.Run(new TrainArgs(dir, "tiny", steps, Seed: 5, Resume: resume, EvalEvery: 15, SaveEvery: 1000), TextWriter.Null, stop, testSize: 8, afterStep);

    public void Dispose() { try { Directory.Delete(Root, recursive: true); } catch (IOException) { } }
}

/// <summary>espeak-ng synthesis with phoneme events, the synthetic data, the vocabulary, tiny training with exact resume,
/// and `attend train speech` / `attend transcribe` as processes with their bad-input messages. Serial: training uses both
/// cores, and the resume check compares losses bit for bit.</summary>
[Collection(SerialCollection.Name)]
public class SpeechTests(TinySpeechRun tiny) : IClassFixture<TinySpeechRun>
{
    string P(string name) => Path.Combine(tiny.Root, name);

    [Fact]
    public void Espeak_gives_audio_and_phonemes_with_increasing_start_times_per_word()
    {
        var s = Espeak.Synthesize("seven of hearts", "en-us", 175, 50);
        Assert.Equal(22050, s.Rate);
        Assert.Equal(3, s.WordCount);
        Assert.Equal(["s", "E", "v", "@", "n"], s.Phones.Where(p => p.Word == 0).Select(p => p.Name));
        Assert.Equal([0, 1, 2], s.Phones.Select(p => p.Word).Distinct());
        Assert.True(s.Phones.Zip(s.Phones.Skip(1), (a, b) => b.StartMs > a.StartMs).All(x => x), "start times must increase");
        double seconds = s.Samples.Length / 22050.0;
        Assert.InRange(seconds, 0.8, 2.5);
        Assert.True(s.Phones[^1].StartMs < seconds * 1000);
        Assert.True(s.Samples.Max(Math.Abs) > 0.05f, "the audio is not silent");
        Assert.Contains("no voice 'xx-nonexistent'", Assert.Throws<SpeechException>(() => Espeak.Synthesize("one", "xx-nonexistent", 175, 50)).Message);
    }

    [Fact]
    public void Data_is_fixed_by_the_seed_and_held_out_voices_are_never_trained_on()
    {
        // the seed fixes text, voice, speed, pitch and augmentation; espeak-ng's waveform may move by a few samples with
        // what it spoke before (its internal state), so frame counts are compared with a tolerance
        var a = SpeechData.MakeBatch(new SplitMix64(9), 1, SpeechMix.Espeak(heldOut: true))[0];
        var b = SpeechData.MakeBatch(new SplitMix64(9), 1, SpeechMix.Espeak(heldOut: true))[0];
        Assert.Equal(a.Words, b.Words);
        Assert.Equal(a.Voice, b.Voice);
        Assert.Equal(a.Phones.Select(p => p.Name), b.Phones.Select(p => p.Name));
        Assert.InRange(a.Frames - b.Frames, -3, 3);
        Assert.Equal(a.Frames * LogMel.Mels, a.Features.Length);
        Assert.All(a.Words, w => Assert.Contains(w, SpeechData.Words));
        Assert.True(a.Phones.Max(p => p.StartMs) < a.Frames * 10 + 25);
        var train = SpeechData.Voices(heldOut: false); var held = SpeechData.Voices(heldOut: true);
        Assert.Empty(train.Intersect(held));
        Assert.All(held, v => Assert.Contains(SpeechData.HeldOutVariants, h => v.EndsWith("+" + h)));
        Assert.Contains(a.Voice, held);
    }

    [Fact]
    public void Vocabulary_writes_each_words_phonemes_then_the_word()
    {
        var vocab = SpeechTask.Vocabulary();
        var s = Espeak.Synthesize("seven of", "en-us", 175, 50);
        var (ids, phone) = SpeechTask.Encode(vocab, ["seven", "of"], s.Phones);
        Assert.Equal(["s", "E", "v", "@", "n", "#seven", "V", "v", "#of"], ids.Select(i => vocab.Tokens[(int)i]));
        Assert.Equal([0, 1, 2, 3, 4, -1, 5, 6, -1], phone);
        Assert.Equal(["seven", "of"], vocab.Words(ids));
        Assert.DoesNotContain(PhonemeTokenizer.Unk, ids);
    }

    [Fact]
    public void Tiny_training_lowers_the_loss_and_scores_the_held_out_voices()
    {
        var r = tiny.Result;
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(TinySpeechRun.Steps, r.Train.Count);
        Assert.True(r.Train.TakeLast(5).Average(l => l.Loss) < r.Train.Take(5).Average(l => l.Loss) - 0.3,
            $"loss {r.Train[0].Loss} → {r.Train[^1].Loss}");
        Assert.Equal([15, 30], r.Dev.Select(d => d.Step));
        Assert.NotNull(r.Test);
        Assert.InRange(r.Test!.Wer, 0, 10);
        Assert.True(r.Test.Words >= 8);
        Assert.True(File.Exists(Path.Combine(tiny.Dir, Checkpoint.ManifestFile)));
    }

    [Fact]
    public void Ctrl_c_then_resume_ends_with_the_same_weights_as_an_uninterrupted_run()
    {
        // processes: espeak-ng's waveforms depend on what it spoke before in the process, which --resume replays
        string[] Args(string dir) => ["train", "speech", "--preset", "tiny", "--steps", "40", "--eval-every", "5", "--save-every", "1000", "--test-size", "2", "--seed", "3", "--augment", "all", "--out", dir];
        var straight = CliProcess.Run(Args(P("straight")));
        Assert.True(straight.Exit == 0, straight.Err);
        using (var run = new CliProcess(Args(P("interrupted"))))
        {
            run.WaitFor("step      5", 120);
            run.Signal("INT");
            Assert.Equal(130, run.Wait());
            Assert.Matches(@"Interrupted at step \d+: checkpoint saved", run.Stdout);
        }
        var rest = CliProcess.Run([.. Args(P("interrupted")), "--resume"]);
        Assert.True(rest.Exit == 0, rest.Err);
        Assert.Contains("utterances espeak-ng spoke before it", rest.Out);
        Assert.Equal(File.ReadAllBytes(Path.Combine(P("straight"), "model.safetensors")), File.ReadAllBytes(Path.Combine(P("interrupted"), "model.safetensors")));
        var again = CliProcess.Run(Args(P("interrupted")));
        Assert.Equal(2, again.Exit);
        Assert.Contains("--resume", again.Err);
    }

    [Fact]
    public void Transcribe_prints_a_table_and_phoneme_times_for_wav_and_raw_files()
    {
        var s = Espeak.Synthesize("five five", "en-us+m3", 160, 50);
        string wav = P("five.wav"), raw = P("five.raw");
        Wav.Write(wav, s.Samples, s.Rate, channels: 2);                      // stereo at 22.05 kHz: mixed down and resampled
        var pcm = Resampler.Resample(s.Samples, s.Rate, 16000);
        File.WriteAllBytes(raw, pcm.SelectMany(v => BitConverter.GetBytes((short)Math.Clamp(v * 32768, -32768, 32767))).ToArray());
        var (exit, stdout, stderr) = CliProcess.Run("transcribe", "--model", tiny.Dir, "--phonemes", wav, raw);
        Assert.True(exit == 0, stderr);
        Assert.Contains("transcript", stdout);
        Assert.Contains("five.wav", stdout);
        Assert.Contains("five.raw", stdout);
        Assert.Matches(@"five\.wav: .*@\d+\.\d\d", stdout);                 // phoneme@seconds
    }

    [Fact]
    public void Bad_input_gives_one_clear_line_and_exit_2()
    {
        string floatWav = P("float.wav"), silent = P("silent.wav");
        Wav.Write(floatWav, new float[1600], 16000);
        var bytes = File.ReadAllBytes(floatWav);
        bytes[20] = 3; bytes[34] = 32;                                          // format 3 (IEEE float), 32 bits
        File.WriteAllBytes(floatWav, bytes);
        Wav.Write(silent, new float[16000], 16000);

        var f = CliProcess.Run("transcribe", "--model", tiny.Dir, floatWav);
        Assert.Equal(2, f.Exit);
        Assert.Contains("unsupported WAV encoding IEEE float 32-bit (format 3)", f.Err);
        Assert.Contains("float.wav", f.Err);
        var q = CliProcess.Run("transcribe", "--model", tiny.Dir, silent);
        Assert.Equal(2, q.Exit);
        Assert.Contains("silent.wav: the audio is silent", q.Err);
        var m = CliProcess.Run("transcribe", "--model", P("nothing-here"), silent);
        Assert.Equal(2, m.Exit);
        Assert.Contains("holds no checkpoint", m.Err);

        using var noEspeak = new CliProcess(new Dictionary<string, string> { ["ATTEND_ESPEAK_LIBRARY"] = "/nonexistent/libespeak-ng.so.1" },
            "train", "speech", "--preset", "tiny", "--steps", "5", "--out", P("no-espeak"));
        Assert.Equal(2, noEspeak.Wait());
        Assert.Contains("espeak-ng is not installed", noEspeak.Stderr);
        Assert.Contains("apt-get install -y espeak-ng libespeak-ng1", noEspeak.Stderr);
        Assert.DoesNotContain("   at ", noEspeak.Stderr);                  // no stack trace
    }

    [Fact]
    public void Train_speech_as_a_process_prints_progress_tables_and_saves()
    {
        var (exit, stdout, stderr) = CliProcess.Run("train", "speech", "--preset", "tiny", "--steps", "10", "--eval-every", "5", "--test-size", "4", "--out", P("cli"));
        Assert.True(exit == 0, stderr);
        Assert.Matches(@"step +10 .*dev WER .*align .*ETA", stdout);
        Assert.Contains("dev WER %", stdout);                                 // the curve table
        Assert.Contains("median alignment error, DTW", stdout);
        Assert.Contains("peak, layer 0 (mean of heads)", stdout);
        Assert.Contains("External voices: flite:kal, flite:kal16, flite:awb, flite:slt, festival:kal_diphone, festival:cmu_us_slt_arctic_hts", stdout);
        Assert.Contains("Augmentation: none.", stdout);
        Assert.Matches(@"Held-out flite/festival voices \(flite:rms, festival:ked_diphone; 4 utterances\): WER \d+\.\d\d% over \d+ words", stdout);
        Assert.Matches(@"Real recordings \(pocketsphinx-testdata, 7 in-grammar files\): \d+ errors in 30 words", stdout);
        Assert.True(File.Exists(Path.Combine(P("cli"), Checkpoint.ManifestFile)));
        Assert.Contains("\"voices\":\"all\",\"augment\":\"none\"", File.ReadAllText(Path.Combine(P("cli"), Checkpoint.ManifestFile)));
    }

    [Fact]
    public void Transcribe_real_scores_the_in_grammar_recordings_and_shows_the_rest()
    {
        var (exit, stdout, stderr) = CliProcess.Run("transcribe", "--model", tiny.Dir, "--real");
        Assert.True(exit == 0, stderr);
        Assert.Contains("cards/001.wav", stdout);
        Assert.Contains("two nine three four zero", stdout);
        Assert.Contains("go forward ten meters", stdout);
        Assert.Contains("not scored", stdout);                                 // LibriVox, numbers.raw, something.raw
        Assert.Matches(@"Real recordings \(pocketsphinx-testdata, 7 in-grammar files\): \d+ errors in 30 words, WER \d+\.\d%", stdout);
        var missing = CliProcess.Run("transcribe", "--model", tiny.Dir, "--real", "--real-dir", P("no-such-dir"));
        Assert.Equal(2, missing.Exit);
        Assert.Contains("apt-get install -y pocketsphinx-testdata", missing.Err);
        var bad = CliProcess.Run("train", "speech", "--preset", "tiny", "--steps", "5", "--augment", "speed,echo", "--out", P("bad-augment"));
        Assert.Equal(2, bad.Exit);
        Assert.Contains("unknown augmentation 'echo'", bad.Err);
    }
}
