using System.CommandLine;
using Attend.Cli.Ui;
using Attend.Data;

namespace Attend.Cli.Speech;

/// <summary>The command-line front of speech: <c>attend train speech …</c> and <c>attend transcribe …</c>.</summary>
public static class SpeechCommands
{
    public static Command Train()
    {
        var common = new TrainOptionSet("model size: tiny (seconds), default (40 ms encoder frames) or fine (20 ms)", ["tiny", "default", "fine"],
            defaultSteps: 100_000, withMinutes: true, withAttention: false, defaultPreset: "default");
        var testSize = new Option<int?>("--test-size") { Description = "held-out utterances scored at the end (default: the preset's)" };
        var voices = new Option<string>("--voices") { Description = "espeak: espeak-ng's voices only; all: half the utterances from flite's and festival's voices too (" + VoicePool.InstallHint + ")", DefaultValueFactory = _ => "all" };
        voices.AcceptOnlyFromAmong("espeak", "all");
        var augment = new Option<string>("--augment")
        {
            Description = $"training augmentations: none (gain and white noise only: the default, since in 15 minutes on 2 cores 'all' raised every held-out WER; docs/speech.md), all, or a comma list of {string.Join(", ", Augmentation.Names)}",
            DefaultValueFactory = _ => "none",
        };
        var real = RealDirOption();
        var cmd = new Command("speech", "Train a speech recognizer (log-mel → Transformer encoder → decoder with cross-attention emitting phonemes and words) " +
            "on utterances espeak-ng, flite and festival synthesize, augmented on the fly; reports WER and cross-attention alignment error on held-out voices, " +
            "and WER on pocketsphinx-testdata's real recordings when installed.") { testSize, voices, augment, real };
        common.AddTo(cmd);
        cmd.SetAction(pr => TrainCommand.Run(stop => SpeechTraining.Run(common.Read(pr), Console.Out, stop, pr.GetValue(testSize),
            voices: pr.GetValue(voices)!, augment: Augmentation.Parse(pr.GetValue(augment)!), realDir: pr.GetValue(real)).ExitCode));
        return cmd;
    }

    static Option<string> RealDirOption() => new("--real-dir")
    {
        Description = "pocketsphinx-testdata's folder (its real recordings are a test set only)", DefaultValueFactory = _ => RealSpeech.DefaultDir,
    };

    public static Command Transcribe()
    {
        var model = new Option<string>("--model") { Description = "checkpoint folder written by 'attend train speech'", Required = true };
        var phonemes = new Option<bool>("--phonemes") { Description = "also print each emitted phoneme with its start time (DTW over the cross-attention of all decoder layers and heads)" };
        var heldOut = new Option<int?>("--held-out") { Description = "instead of files: score this many synthesized utterances of the held-out voices (WER, alignment error)" };
        var real = new Option<bool>("--real") { Description = $"instead of files: transcribe pocketsphinx-testdata's real recordings and score the in-grammar ones (WER per file and overall; {RealSpeech.InstallHint})" };
        var realDir = RealDirOption();
        var files = new Argument<string[]>("files") { Description = "audio: .wav (16-bit PCM, mono or stereo, any rate) or .raw (16 kHz 16-bit mono)", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("transcribe", "Transcribe audio files with a model trained by 'attend train speech'.") { model, phonemes, heldOut, real, realDir, files };
        cmd.SetAction(pr => CliChecks.Guard(() =>
        {
            var m = SpeechTask.Load(pr.GetValue(model)!);
            var paths = pr.GetValue(files)!;
            if (pr.GetValue(heldOut) is int n)
            {
                if (n <= 0 || paths.Length > 0) throw new SpeechException("--held-out takes a positive count and no files");
                var (test, head) = SpeechTraining.HeldOut(m, SpeechTraining.DevExamples(m.Config.Preset.DevSize), n);
                Terminal.Write(Console.Out, SpeechTraining.ScoreTable(test, "held-out voices", head));
                SpeechTraining.WriteExternal(m, Console.Out, n);
                return 0;
            }
            if (pr.GetValue(real))
            {
                if (paths.Length > 0) throw new SpeechException("--real takes no files");
                RealSpeech.Write(Console.Out, RealSpeech.Score(m, pr.GetValue(realDir)!));
                return 0;
            }
            if (paths.Length == 0) throw new SpeechException("give audio files to transcribe (or --held-out N)");
            var inputs = paths.Select(f =>
            {
                try { return (LogMel.Features(Wav.ReadMono(f), out int frames), frames); }
                catch (SpeechException ex) { throw new SpeechException($"{f}: {ex.Message.Replace($"'{f}': ", "")}"); }
            }).ToArray();
            var rec = SpeechEval.Recognize(m, inputs);
            var table = Terminal.Table("file", ">seconds", "transcript");
            for (int i = 0; i < paths.Length; i++) table.Row(paths[i], $"{inputs[i].frames / 100.0:F2}", string.Join(' ', rec[i].Words));
            Terminal.Write(Console.Out, table);
            if (pr.GetValue(phonemes))
                for (int i = 0; i < paths.Length; i++)
                {
                    var r = rec[i];
                    var parts = Enumerable.Range(0, r.Tokens.Length).Select(t =>
                    {
                        string tok = m.Config.Vocab.Tokens[(int)r.Tokens[t]];
                        return PhonemeTokenizer.IsWord(tok) ? $"[{tok[1..]}]" : $"{tok}@{SpeechEval.FrameMs(r.StartFrame[t], m.Subsampling) / 1000:F2}";
                    });
                    Console.WriteLine($"{paths[i]}: {string.Join(' ', parts)}");
                }
            return 0;
        }));
        return cmd;
    }
}
