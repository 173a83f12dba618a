// Types that break the layer rules on purpose, so that LayerTests can show each rule failing (root namespace
// Attend.Tests.WrongWay, laid out as the library is). Nothing calls them.
namespace Attend.Tests.WrongWay
{
    /// <summary>Core: uses only what is below it (right way).</summary>
    internal sealed class Tensor { public float[] Data = []; }

    /// <summary>A functional op that opens an Interpret capture (wrong way: Functional → Interpret).</summary>
    internal static class Functional
    {
        public static Tensor Attention(Tensor q) { using var c = new Interpret.Capture(); return q; }
    }
}

namespace Attend.Tests.WrongWay.Kernels
{
    /// <summary>A kernel that takes a layer instead of pointers (wrong way: Kernels → Nn and Core).</summary>
    internal static class Loop
    {
        public static int Width(Nn.Layer layer) => layer.Width;
    }
}

namespace Attend.Tests.WrongWay.Attention
{
    /// <summary>Options that hold the calling module (wrong way: Attention → Nn, as AttentionOptions.Site once did).</summary>
    internal sealed class Options { public Nn.Layer? Site { get; init; } }
}

namespace Attend.Tests.WrongWay.Data
{
    internal sealed class Tokenizer { public Tensor Encode() => new(); }
}

namespace Attend.Tests.WrongWay.Nn
{
    /// <summary>A layer that saves its own checkpoints through the trainer (wrong way: Nn → Training); it may use IO-free
    /// Data (right way).</summary>
    internal sealed class Layer
    {
        public int Width => 1;
        public Data.Tokenizer Tokens { get; } = new();
        public void Fit() => new Training.Loop().Run();
    }
}

namespace Attend.Tests.WrongWay.Training
{
    internal sealed class Loop { public void Run() { } }
}

namespace Attend.Tests.WrongWay.Interpret
{
    /// <summary>Interpret may use Nn (right way).</summary>
    internal sealed class Capture : IDisposable
    {
        public Nn.Layer? Root { get; init; }
        public void Dispose() { }
    }
}
