using System.CommandLine;

namespace Attend.Cli.Lm;

/// <summary>The command-line front of the language model: <c>attend train lm …</c> and <c>attend sample …</c>.</summary>
public static class LmCommands
{
    public static Command Train()
    {
        var data = new Option<string>("--data") { Description = "training text: a UTF-8 file (.gz allowed) or 'kjv' (the King James Bible)", Required = true };
        var common = new TrainOptionSet("model size: tiny (seconds), small (minutes) or default", ["tiny", "small", "default"], defaultSteps: 2000,
            withMinutes: false, withAttention: true, defaultPreset: "default");
        var lm = new Command("lm", "Train a character-level GPT on a text, printing validation loss (nats/char) next to a bigram baseline.") { data };
        common.AddTo(lm);
        lm.SetAction(pr => TrainCommand.Run(stop => LmTraining.Run(pr.GetValue(data)!, common.Read(pr), Console.Out, stop).ExitCode));
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
}
