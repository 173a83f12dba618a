using Xunit;

namespace Attend.Cli.Tests;

/// <summary>Tests that touch global state (the console, Ctrl-C handlers, child processes, the default generator) run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial (global state)";
}
