using ArchUnitNET.Domain;
using ArchUnitNET.Fluent;
using ArchUnitNET.Loader;
using ArchUnitNET.xUnit;
using Xunit;
using static ArchUnitNET.Fluent.ArchRuleDefinition;

namespace Attend.Tests;

/// <summary>
/// The library's layers point one way. Each layer may use the ones before it, never one after:
/// <code>
/// Kernels          pointers and caller scratch only: no other part of Attend (the tensor ops call them)
/// Core             Tensor, storage, shapes, autograd, ops                        namespace Attend
/// Attention        options, variants, the observer hook, REINFORCE's collector   Attend.Attention
/// Functional       stateless ops: ScaledDotProductAttention, Softmax, …          Attend.Functional (a class)
/// Data             tokenizers, batching, image sets and readers                  Attend.Data
/// Nn               Module, layers, the attention core, KV cache, models           Attend.Nn
/// Optim, IO        optimizers and schedules; safetensors and checkpoints         Attend.Optim, Attend.IO
/// Interop          pretrained models in: ONNX graphs, BERT from ONNX / HF folders Attend.Interop (uses Nn, IO, Data;
///                  its own assembly and package, with WordPieceTokenizer, so that Attend depends on System.Numerics.Tensors alone)
/// Training         the training loop, metrics                                    Attend.Training
/// Interpret        attention capture (installs the hook), analyses, views        Attend.Interpret
/// </code>
/// Training and Interpret sit side by side and do not use each other. The rules are checked on the compiled library
/// (every type reference in signatures and IL), and — so that a rule that cannot fail would be seen — on a small set
/// of types in this test assembly that break them on purpose (<see cref="WrongWay"/>).
/// </summary>
public class LayerTests
{
    static readonly Architecture Library = new ArchLoader().LoadAssemblies(typeof(Tensor).Assembly, typeof(Attend.Interop.OnnxGraph).Assembly).Build();
    static readonly Architecture Wrong = new ArchLoader().LoadAssemblies(typeof(LayerTests).Assembly).Build();

    /// <summary>The layers of a library whose root namespace is <paramref name="root"/>, bottom first, each with the
    /// layers it must not use.</summary>
    public static IReadOnlyList<(string Layer, IArchRule Rule)> Rules(string root)
    {
        IObjectProvider<IType> Ns(string name) => Types().That().ResideInNamespaceOrBelow($"{root}.{name}").As(name);
        var functional = Types().That().HaveFullNameStartingWith($"{root}.Functional").As("Functional");
        var core = Types().That().ResideInNamespace(root).And().DoNotHaveFullNameStartingWith($"{root}.Functional").As("Core");
        var rules = new List<(string, IArchRule)>
        {
            ("Kernels", Types().That().ResideInNamespaceOrBelow($"{root}.Kernels").Should()
                .OnlyDependOn(Types().That().ResideInNamespaceOrBelow($"{root}.Kernels").Or().DoNotResideInNamespaceOrBelow(root))),
        };
        // each layer and what may not be used from it (everything above it)
        var above = new (string Name, IObjectProvider<IType> Types, string[] NotUse)[]
        {
            ("Core", core, ["Attention", "Functional", "Data", "Nn", "Optim", "IO", "Interop", "Training", "Interpret"]),
            ("Attention", Ns("Attention"), ["Functional", "Data", "Nn", "Optim", "IO", "Interop", "Training", "Interpret"]),
            ("Functional", functional, ["Data", "Nn", "Optim", "IO", "Interop", "Training", "Interpret"]),
            ("Data", Ns("Data"), ["Nn", "Optim", "IO", "Interop", "Training", "Interpret"]),
            ("Nn", Ns("Nn"), ["Optim", "IO", "Interop", "Training", "Interpret"]),
            ("Optim", Ns("Optim"), ["Nn", "IO", "Interop", "Training", "Interpret"]),
            ("IO", Ns("IO"), ["Nn", "Optim", "Interop", "Training", "Interpret"]),
            ("Interop", Ns("Interop"), ["Optim", "Training", "Interpret"]),
            ("Training", Ns("Training"), ["Interpret"]),
            ("Interpret", Ns("Interpret"), ["Optim", "Training"]),
        };
        foreach (var (name, types, notUse) in above)
            foreach (var other in notUse)
            {
                var target = other == "Functional" ? functional : Ns(other);
                rules.Add(($"{name} → {other}", Types().That().Are(types).Should().NotDependOnAny(target).Because($"{name} sits below {other}")));
            }
        return rules;
    }

    public static TheoryData<string> LibraryRules() => new(Rules("Attend").Select(r => r.Layer));

    [Theory]
    [MemberData(nameof(LibraryRules))]
    public void TheLibrarysLayersPointDownOnly(string layer) => Rules("Attend").Single(r => r.Layer == layer).Rule.Check(Library);

    [Fact]
    public void EveryLayerHasTypes()
    {
        foreach (var ns in new[] { "Attend.Kernels", "Attend.Attention", "Attend.Data", "Attend.Nn", "Attend.Optim", "Attend.IO", "Attend.Interop", "Attend.Training", "Attend.Interpret" })
            Assert.Contains(Library.Types, t => t.Namespace.FullName.StartsWith(ns, StringComparison.Ordinal));
        Assert.Contains(Library.Types, t => t.FullName == "Attend.Functional");
        Assert.Contains(Library.Types, t => t.FullName == "Attend.Tensor");
    }

    /// <summary>The Attend package's one dependency is System.Numerics.Tensors: the core assembly references the .NET
    /// framework and that alone — not Attend.Interop, OnnxSharp, Google.Protobuf or Microsoft.ML.Tokenizers.</summary>
    [Fact]
    public void TheCoreAssemblyReferencesTheFrameworkAndSystemNumericsTensorsOnly()
    {
        var names = typeof(Tensor).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToArray();
        Assert.Contains("System.Numerics.Tensors", names);
        var framework = new HashSet<string>(Directory.GetFiles(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "*.dll")
            .Select(Path.GetFileNameWithoutExtension)!, StringComparer.Ordinal);
        Assert.Equal([], names.Where(n => n != "System.Numerics.Tensors" && !framework.Contains(n)).ToArray());
        Assert.Contains("Attend", typeof(Attend.Interop.OnnxGraph).Assembly.GetReferencedAssemblies().Select(a => a.Name));
    }

    /// <summary>The same rules on types that reference the wrong way on purpose: a kernel that takes a layer, attention
    /// options that hold a module (as AttentionOptions.Site once did), a functional op that opens an Interpret capture.</summary>
    [Theory]
    [InlineData("Kernels", "Attend.Tests.WrongWay.Kernels.Loop")]
    [InlineData("Attention → Nn", "Attend.Tests.WrongWay.Attention.Options")]
    [InlineData("Functional → Interpret", "Attend.Tests.WrongWay.Functional")]
    [InlineData("Nn → Training", "Attend.Tests.WrongWay.Nn.Layer")]
    public void AWrongWayReferenceFailsItsRule(string layer, string offender)
    {
        var rule = Rules("Attend.Tests.WrongWay").Single(r => r.Layer == layer).Rule;
        var e = Assert.ThrowsAny<Exception>(() => rule.Check(Wrong));
        Assert.Contains(offender, e.Message);
    }

    [Fact]
    public void TheRightWayReferencesOfTheFixturePass()
    {
        foreach (var layer in new[] { "Core → Nn", "Nn → IO", "Interpret → Training", "Data → Nn" })
            Rules("Attend.Tests.WrongWay").Single(r => r.Layer == layer).Rule.Check(Wrong);
    }
}
