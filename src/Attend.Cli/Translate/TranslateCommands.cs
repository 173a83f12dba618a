using System.CommandLine;

namespace Attend.Cli.Translate;

/// <summary>The command-line front of translation: <c>attend train translate …</c> and <c>attend translate …</c>.</summary>
public static class TranslateCommands
{
    public static Command Train()
    {
        var data = new Option<string>("--data") { Description = $"sentence pairs, one 'source<TAB>target' per line (demo: {Pairs.DemoPath}, made by {Pairs.MakeCommand})", Required = true };
        var outDir = new Option<string>("--out") { Description = "checkpoint folder (written every few hundred steps, at the end and on Ctrl-C)", Required = true };
        var preset = new Option<string>("--preset") { Description = "model size: tiny (seconds) or default", DefaultValueFactory = _ => "default" };
        var steps = new Option<int>("--steps") { Description = "total optimizer steps", DefaultValueFactory = _ => 100_000 };
        var minutes = new Option<double?>("--minutes") { Description = "also stop after this many minutes of training (the lr cosine then runs over the time)" };
        var seed = new Option<int>("--seed") { Description = "seed for the initial weights and the batches", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "continue the checkpoint in --out (same data and preset)" };
        var evalEvery = new Option<int?>("--eval-every") { Description = "steps between dev BLEU measurements (default: the preset's)" };
        var attention = AttentionChoice.Option();
        var heatmap = new Option<string?>("--heatmap") { Description = "also write a PNG of the cross-attention on the first held-out pair" };
        var cmd = new Command("translate", "Train a word-level encoder-decoder Transformer on sentence pairs, printing dev BLEU; the end reports BLEU on the held-out pairs.")
        {
            data, outDir, preset, steps, minutes, seed, resume, evalEvery, attention, heatmap,
        };
        cmd.SetAction(pr =>
        {
            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); Console.Error.WriteLine("stopping: saving a checkpoint…"); };
            Console.CancelKeyPress += onCancel;
            try
            {
                return CliChecks.Guard(() => TranslateTraining.Run(new TranslateTrainOptions(pr.GetValue(data)!, pr.GetValue(outDir)!, pr.GetValue(preset)!,
                    pr.GetValue(steps), pr.GetValue(minutes), pr.GetValue(seed), pr.GetValue(resume), pr.GetValue(evalEvery),
                    Attention: pr.GetValue(attention)!, Heatmap: pr.GetValue(heatmap)), Console.Out, cts.Token).ExitCode);
            }
            finally { Console.CancelKeyPress -= onCancel; }
        });
        return cmd;
    }

    public static Command Translate()
    {
        var model = new Option<string>("--model") { Description = "checkpoint folder written by 'attend train translate'", Required = true };
        var beam = new Option<int>("--beam") { Description = "beam width (1: greedy)", DefaultValueFactory = _ => 1 };
        var lengthPenalty = new Option<double>("--length-penalty") { Description = "GNMT length penalty α for beam search: score = log p / ((5+|y|)/6)^α", DefaultValueFactory = _ => 0.6 };
        var text = new Argument<string[]>("text") { Description = "sentences to translate (none: one per line from standard input)", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("translate", "Translate sentences with a model trained by 'attend train translate'.") { model, beam, lengthPenalty, text };
        cmd.SetAction(pr => CliChecks.Guard(() =>
        {
            var m = TranslateTraining.Load(pr.GetValue(model)!);
            var sentences = pr.GetValue(text) is { Length: > 0 } given ? given : ReadStdin();
            foreach (var s in sentences)
                Console.WriteLine(BeamSearch.Translate(m, s, pr.GetValue(beam), pr.GetValue(lengthPenalty)));
            return 0;
        }));
        return cmd;
    }

    static string[] ReadStdin()
    {
        var lines = new List<string>();
        while (Console.In.ReadLine() is { } line) if (line.Trim().Length > 0) lines.Add(line.Trim());
        return lines.ToArray();
    }

    /// <summary>User errors as one line "error: …" and exit code 2.</summary>
}
