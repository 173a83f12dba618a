using System.CommandLine;
using Attend.Nn;

namespace Attend.Cli.Recall;

/// <summary>The command-line front of the long-range task: <c>attend train recall …</c>.</summary>
public static class RecallCommands
{
    public static Command Train()
    {
        var context = new Option<int>("--context") { Description = "the test's distance: answers lie at least this many tokens before their queries", DefaultValueFactory = _ => 4096 };
        var positions = new Option<string>("--positions") { Description = "positional scheme: none (NoPE: with the token shift it generalizes to any length), rope, alibi or learned", DefaultValueFactory = _ => "none" };
        positions.AcceptOnlyFromAmong("rope", "alibi", "none", "learned");
        var task = new Option<string>("--task") { Description = "mqar (16 pairs, 8 queries) or needle (1 pair, 1 query)", DefaultValueFactory = _ => "mqar" };
        task.AcceptOnlyFromAmong("mqar", "needle");
        var dim = new Option<int>("--dim") { Description = "model width", DefaultValueFactory = _ => 64 };
        var layers = new Option<int>("--layers") { Description = "blocks", DefaultValueFactory = _ => 2 };
        var heads = new Option<int>("--heads") { Description = "attention heads; must divide --dim", DefaultValueFactory = _ => 2 };
        var start = new Option<int>("--start-length") { Description = "the curriculum's first sequence length (doubled at 99% held-out accuracy)", DefaultValueFactory = _ => 128 };
        var testLengths = new Option<string?>("--test-lengths") { Description = "also test at these distances, e.g. 8192,16384 (length generalization)" };
        var lr = new Option<double>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => 3e-3 };
        var pairs = new Option<int>("--pairs") { Description = "key–value pairs per sequence (mqar)", DefaultValueFactory = _ => 16 };
        var queries = new Option<int>("--queries") { Description = "queries per sequence (mqar)", DefaultValueFactory = _ => 8 };
        var shift = new Option<bool>("--token-shift") { Description = "mix each attention input with the previous position's (RWKV token shift); false: a plain GPT", DefaultValueFactory = _ => true };
        var testSequences = new Option<int>("--test-sequences") { Description = "held-out sequences per test", DefaultValueFactory = _ => 64 };
        var common = new TrainOptionSet("default", ["default"], defaultSteps: null, withMinutes: true, withAttention: true, defaultPreset: "default");
        var cmd = new Command("recall", "Train a small GPT to recall values whose keys lie thousands of tokens back (multi-query associative recall), then test it at full length.")
        {
            context, positions, task, dim, layers, heads, start, testLengths, testSequences, lr, pairs, queries, shift,
        };
        common.AddTo(cmd);
        cmd.SetAction(pr => TrainCommand.Run(stop =>
        {
            int[] tests;
            try { tests = (pr.GetValue(testLengths) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray(); }
            catch (FormatException) { throw new CliException($"--test-lengths: '{pr.GetValue(testLengths)}' is not a list of numbers like 8192,16384"); }
            var o = new RecallOptions(common.Read(pr), pr.GetValue(context), Enum.Parse<PositionKind>(pr.GetValue(positions)!, ignoreCase: true), pr.GetValue(task)!,
                pr.GetValue(dim), pr.GetValue(layers), pr.GetValue(heads), pr.GetValue(start), tests, pr.GetValue(testSequences), pr.GetValue(lr), pr.GetValue(pairs), pr.GetValue(queries), pr.GetValue(shift));
            return RecallTraining.Run(o, Console.Out, stop).ExitCode;
        }));
        return cmd;
    }
}
