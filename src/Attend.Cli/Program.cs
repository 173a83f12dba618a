using System.CommandLine;
using System.Reflection;
using Attend.Cli;

var steps = new Option<int>("--steps") { Description = "training steps", DefaultValueFactory = _ => 400 };
var seed = new Option<int>("--seed") { Description = "random seed", DefaultValueFactory = _ => 0 };
var quickstart = new Command("quickstart", "Attention in one minute: softmax(QKᵀ/√d)V by hand, then a self-attention layer trained to reverse sequences, with its attention map.")
{
    steps, seed,
};
quickstart.SetAction(pr => Quickstart.Run(pr.GetValue(steps), pr.GetValue(seed)));

var root = new RootCommand("attend — self-attention and the Transformer in pure .NET") { quickstart };
var version = Assembly.GetExecutingAssembly().GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.1.0";
root.Description += $" (version {version.Split('+')[0]})";
return root.Parse(args).Invoke();
