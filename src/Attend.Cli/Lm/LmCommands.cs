using System.CommandLine;

namespace Attend.Cli.Lm;

/// <summary>The command-line front of the language model: <c>attend train lm …</c> and <c>attend sample …</c>.</summary>
public static class LmCommands
{
    public static Command Train()
    {
        var data = new Option<string>("--data") { Description = "training text: a UTF-8 file (.gz allowed) or 'kjv' (the King James Bible)", Required = true };
        var outDir = new Option<string>("--out") { Description = "checkpoint folder (written every few hundred steps, at the end and on Ctrl-C)", Required = true };
        var preset = new Option<string>("--preset") { Description = "model size: tiny (seconds), small (minutes) or default", DefaultValueFactory = _ => "default" };
        var steps = new Option<int>("--steps") { Description = "total optimizer steps", DefaultValueFactory = _ => 2000 };
        var seed = new Option<int>("--seed") { Description = "seed for the initial weights and the batches", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "continue the checkpoint in --out (same data and preset) up to --steps" };
        var evalEvery = new Option<int?>("--eval-every") { Description = "steps between validation losses (default: the preset's)" };
        var saveEvery = new Option<int?>("--save-every") { Description = "steps between checkpoints (default: the preset's)" };
        var attention = AttentionChoice.Option();
        var lm = new Command("lm", "Train a character-level GPT on a text, printing validation loss (nats/char) next to a bigram baseline.")
        {
            data, outDir, preset, steps, seed, resume, evalEvery, saveEvery, attention,
        };
        lm.SetAction(pr =>
        {
            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); Console.Error.WriteLine("stopping: saving a checkpoint…"); };
            Console.CancelKeyPress += onCancel;
            try
            {
                return CliChecks.Guard(() => LmTraining.Run(new LmTrainOptions(pr.GetValue(data)!, pr.GetValue(outDir)!, pr.GetValue(preset)!, pr.GetValue(steps),
                    pr.GetValue(seed), pr.GetValue(resume), pr.GetValue(evalEvery), pr.GetValue(saveEvery), pr.GetValue(attention)!), Console.Out, cts.Token).ExitCode);
            }
            finally { Console.CancelKeyPress -= onCancel; }
        });
        return new Command("train", "Train a model.") { lm };
    }

    public static Command Sample()
    {
        var model = new Option<string>("--model") { Description = "checkpoint folder written by 'attend train lm'", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "text to continue", DefaultValueFactory = _ => "" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "characters to generate", DefaultValueFactory = _ => 300 };
        var temperature = new Option<float>("--temperature") { Description = "softmax temperature (0: greedy)", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int?>("--top-k") { Description = "sample among the k most likely characters" };
        var topP = new Option<float?>("--top-p") { Description = "sample among the most likely characters whose probability reaches p" };
        var seed = new Option<int>("--seed") { Description = "sampling seed", DefaultValueFactory = _ => 0 };
        var noCache = new Option<bool>("--no-cache") { Description = "recompute the whole context for every token (no KV cache)" };
        var bench = new Option<bool>("--bench") { Description = "also generate the other way and print tokens/s with and without the KV cache" };
        var cmd = new Command("sample", "Continue a prompt with a model trained by 'attend train lm'.")
        {
            model, prompt, maxTokens, temperature, topK, topP, seed, noCache, bench,
        };
        cmd.SetAction(pr => CliChecks.Guard(() =>
        {
            Console.WriteLine(LmSampling.Run(new LmSampleOptions(pr.GetValue(model)!, pr.GetValue(prompt)!, pr.GetValue(maxTokens), pr.GetValue(temperature),
                pr.GetValue(topK), pr.GetValue(topP), pr.GetValue(seed), pr.GetValue(noCache), pr.GetValue(bench)), Console.Error));
            return 0;
        }));
        return cmd;
    }

    /// <summary>User errors as one line "error: …" and exit code 2.</summary>
}
