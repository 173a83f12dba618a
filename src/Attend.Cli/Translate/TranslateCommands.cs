using System.CommandLine;

namespace Attend.Cli.Translate;

/// <summary>The command-line front of translation: <c>attend train translate …</c> and <c>attend translate …</c>.</summary>
public static class TranslateCommands
{
    public static Command Train()
    {
        var data = new Option<string>("--data") { Description = $"sentence pairs, one 'source<TAB>target' per line (demo: {Pairs.DemoPath}, made by {Pairs.MakeCommand})", Required = true };
        var common = new TrainOptionSet("model size: tiny (seconds) or default", ["tiny", "default"], defaultSteps: 100_000,
            withMinutes: true, withAttention: true, defaultPreset: "default");
        var heatmap = new Option<string?>("--heatmap") { Description = "also write a PNG of the cross-attention on the first held-out pair" };
        var cmd = new Command("translate", "Train a word-level encoder-decoder Transformer on sentence pairs, printing dev BLEU; the end reports BLEU on the held-out pairs.")
        {
            data, heatmap,
        };
        common.AddTo(cmd);
        cmd.SetAction(pr => TrainCommand.Run(stop => TranslateTraining.Run(pr.GetValue(data)!, common.Read(pr), Console.Out, stop, pr.GetValue(heatmap)).ExitCode));
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
            var (m, cfg) = TranslateTask.Load(pr.GetValue(model)!);
            var sentences = pr.GetValue(text) is { Length: > 0 } given ? given : ReadStdin();
            foreach (var s in sentences)
                Console.WriteLine(TranslateTask.Beam(m, cfg, s, pr.GetValue(beam), pr.GetValue(lengthPenalty)));
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
}
