using ArchUnitNET.Domain;
using ArchUnitNET.Fluent;
using ArchUnitNET.Loader;
using ArchUnitNET.xUnit;
using Xunit;
using static ArchUnitNET.Fluent.ArchRuleDefinition;

namespace Attend.Cli.Tests;

/// <summary>
/// The CLI's folders: each task (Dates, Lm, Translate, Vision, Speech, Embeddings) keeps its data and front end and uses only the
/// library and the shared command plumbing (Attend.Cli, Ui) — never another task (as Speech, Vision and Translate once
/// imported Lm for its random generator) nor Explain or Export (as the quickstart once went through the date explainer).
/// Explain and Export use the tasks, not each other; Ui and the shared plumbing use no task.
/// </summary>
public class FolderTests
{
    static readonly Architecture Cli = new ArchLoader().LoadAssemblies(typeof(CliException).Assembly).Build();
    static readonly string[] Tasks = ["Dates", "Lm", "Translate", "Vision", "Speech", "Embeddings"];

    static IObjectProvider<IType> Ns(string name) => Types().That().ResideInNamespaceOrBelow($"Attend.Cli.{name}").As(name);

    public static TheoryData<string, string> Pairs()
    {
        var d = new TheoryData<string, string>();
        foreach (var a in Tasks)
            foreach (var b in Tasks.Append("Explain").Append("Export").Where(b => b != a)) d.Add(a, b);
        foreach (var b in Tasks.Append("Explain").Append("Export")) d.Add("Ui", b);
        d.Add("Explain", "Export");
        d.Add("Export", "Explain");
        return d;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void AFolderDoesNotUseAnother(string folder, string other) =>
        Types().That().Are(Ns(folder)).Should().NotDependOnAny(Ns(other)).Check(Cli);

    [Fact]
    public void TheSharedPlumbingUsesNoTask()
    {
        var plumbing = Types().That().ResideInNamespace("Attend.Cli").As("Attend.Cli");
        foreach (var t in Tasks.Append("Explain").Append("Export")) Types().That().Are(plumbing).Should().NotDependOnAny(Ns(t)).Check(Cli);
    }
}
