using System.CommandLine;
using System.Reflection;
using Attend.Cli;
using Attend.Cli.Dates;
using Attend.Cli.Embeddings;
using Attend.Cli.Explain;
using Attend.Cli.Lm;
using Attend.Cli.Speech;
using Attend.Cli.Translate;
using Attend.Cli.Vision;

if (Cluster.Join(args) is int refused) return refused;   // under mpirun: MPI_Init, rank 0 prints

var outDir = new Option<string>("--out") { Description = "folder for the attention heatmaps (PNG) and the trained model (OUT/model, for attend explain/serve)", DefaultValueFactory = _ => "attend-out" };
var seed = new Option<int>("--seed") { Description = "random seed", DefaultValueFactory = _ => 0 };
var steps = new Option<int?>("--steps") { Description = "training budget in optimizer steps (default: --seconds)" };
var seconds = new Option<double?>("--seconds") { Description = "training budget in seconds (default 60; tiny preset: 150 steps)" };
var preset = new Option<string>("--preset") { Description = "tiny (seconds, for tests/CI) or default", DefaultValueFactory = _ => "default" };
preset.AcceptOnlyFromAmong("tiny", "default");
var attention = AttentionChoice.Option();
var quickstart = new Command("quickstart", "Train an encoder-decoder Transformer to normalize dates (\"Tuesday 24 Nov 2026\" → \"2026-11-24\") in a minute, then look at its cross-attention.")
{
    outDir, seed, steps, seconds, preset, attention,
};
quickstart.SetAction(pr => CliChecks.Guard(() => Quickstart.Run(pr.GetValue(outDir)!, pr.GetValue(seed), pr.GetValue(steps), pr.GetValue(seconds), pr.GetValue(preset)!, pr.GetValue(attention)!)));

var train = LmCommands.Train();
train.Subcommands.Add(TranslateCommands.Train());
train.Subcommands.Add(VisionCommands.Train());
train.Subcommands.Add(SpeechCommands.Train());
train.Subcommands.Add(Attend.Cli.Recall.RecallCommands.Train());
var root = new RootCommand("attend — self-attention and the Transformer in pure .NET") { quickstart, train, LmCommands.Sample(), TranslateCommands.Translate(),
    VisionCommands.Classify(), SpeechCommands.Transcribe(), ExplainCommand.Create(), ServeCommand.Create(), EmbedCommand.Create(), SearchCommand.Create(), Attend.Cli.Export.ExportCommand.Create() };
var version = Assembly.GetExecutingAssembly().GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.1.0";
root.Description += $" (version {version.Split('+')[0]})";
var parsed = root.Parse(args);
int exit = parsed.Errors.Count > 0 && !Cluster.IsMain ? 2 : parsed.Invoke();   // under mpirun, rank 0 alone prints a usage error
Cluster.Leave();
return exit;
