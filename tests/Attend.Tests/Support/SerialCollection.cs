using Xunit;

namespace Attend.Tests;

/// <summary>Tests that touch global state (the storage pool, the default generator) run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial (global state)";
}
