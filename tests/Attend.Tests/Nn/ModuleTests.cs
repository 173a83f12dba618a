using Attend;
using Attend.Nn;
using Xunit;

namespace Attend.Tests;

/// <summary>Module bookkeeping: names as PyTorch's, state dicts, strict loading, modes, initialization ranges.</summary>
public class ModuleTests
{
    private sealed class Block : Module
    {
        public Linear Fc { get; }
        public LayerNorm Ln { get; }
        public Block(Random rng)
        {
            Fc = RegisterModule("fc", new Linear(4, 3, rng: rng));
            Ln = RegisterModule("ln", new LayerNorm(3));
            RegisterBuffer("steps", Tensor.Zeros(1));
            RegisterBuffer("cache", Tensor.Zeros(2), persistent: false);
        }
    }

    private sealed class Net : Module
    {
        public Net(Random rng)
        {
            RegisterModule("emb", new Embedding(10, 4, paddingIdx: 0, rng: rng));
            RegisterModule("blocks", new Sequential(new Linear(4, 4, rng: rng), new ReLU()));
            RegisterModule("block", new Block(rng));
        }
    }

    [Fact]
    public void NamesFollowPyTorch()
    {
        var net = new Net(new Random(1));
        Assert.Equal(new[] { "emb.weight", "blocks.0.weight", "blocks.0.bias", "block.fc.weight", "block.fc.bias", "block.ln.weight", "block.ln.bias" },
            net.NamedParameters().Select(p => p.Name).ToArray());
        // As PyTorch's state_dict(): a module's own parameters and buffers come before its children's.
        Assert.Equal(new[] { "emb.weight", "blocks.0.weight", "blocks.0.bias", "block.steps", "block.fc.weight", "block.fc.bias", "block.ln.weight", "block.ln.bias" },
            net.StateDict().Keys.ToArray());
        Assert.Equal(40 + 20 + 15 + 6, net.ParameterCount);
        Assert.Contains("Linear(in_features=4, out_features=3, bias=True)", net.ToString());
    }

    [Fact]
    public void StrictLoadListsEveryProblemAndChangesNothing()
    {
        var a = new Net(new Random(1));
        var sd = a.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        sd.Remove("block.fc.bias");
        sd["block.fc.weight"] = Tensor.Zeros(3, 5);
        sd["extra.weight"] = Tensor.Zeros(2);
        var b = new Net(new Random(2));
        var before = b.StateDict()["emb.weight"].ToArray();
        var ex = Assert.Throws<ArgumentException>(() => b.LoadStateDict(sd));
        Assert.Contains("size mismatch for block.fc.weight: checkpoint has [3, 5], this model has [3, 4]", ex.Message);
        Assert.Contains("missing key: block.fc.bias [3]", ex.Message);
        Assert.Contains("unexpected key: extra.weight [2]", ex.Message);
        Assert.Equal(before, b.StateDict()["emb.weight"].ToArray());
    }

    [Fact]
    public void LoadCopiesValuesAndNonStrictReportsUnmatched()
    {
        var a = new Net(new Random(1));
        var b = new Net(new Random(2));
        var sd = a.StateDict().Where(kv => kv.Key != "block.steps").ToDictionary(kv => kv.Key, kv => kv.Value);
        sd["stray"] = Tensor.Zeros(1);
        var r = b.LoadStateDict(sd, strict: false);
        Assert.Equal(new[] { "block.steps" }, r.MissingKeys);
        Assert.Equal(new[] { "stray" }, r.UnexpectedKeys);
        foreach (var (name, p) in a.NamedParameters())
            Assert.Equal(p.ToArray(), b.StateDict()[name].ToArray());
        Assert.False(ReferenceEquals(a.StateDict()["emb.weight"], b.StateDict()["emb.weight"]));
    }

    [Fact]
    public void TrainEvalReachesEverySubmoduleAndDropoutFollows()
    {
        var d = new Dropout(0.5f, new Random(3));
        var seq = new Sequential(new Linear(3, 3, rng: new Random(1)), d);
        seq.Eval();
        Assert.False(d.Training);
        var x = Tensor.Ones(4, 3);
        Assert.Equal(seq.Forward(x).ToArray(), seq.Forward(x).ToArray());   // no dropout in eval
        seq.Train();
        Assert.True(d.Training);
        Assert.Contains(0f, d.Forward(Tensor.Ones(100)).ToArray());
    }

    [Fact]
    public void InitializationRangesMatchPyTorch()
    {
        var lin = new Linear(100, 50, rng: new Random(1));
        float k = 1f / MathF.Sqrt(100);
        Assert.All(lin.Weight.ToArray(), v => Assert.InRange(v, -k, k));
        Assert.All(lin.Bias!.ToArray(), v => Assert.InRange(v, -k, k));
        Assert.True(lin.Weight.ToArray().Max() > 0.9f * k);   // spans the range
        var emb = new Embedding(1000, 16, paddingIdx: 3, rng: new Random(2));
        var w = emb.Weight.ToArray();
        Assert.All(w.Skip(3 * 16).Take(16), v => Assert.Equal(0f, v));
        double mean = w.Average(), std = Math.Sqrt(w.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(std, 0.95, 1.05);
    }

    [Fact]
    public void LinearMatchesMatmulPlusBiasForwardAndBackward()
    {
        var rng = new Random(5);
        var x = Tensor.Randn(new[] { 2, 3, 4 }, rng, requiresGrad: true);
        var lin = new Linear(4, 5, rng: rng);
        var g = Tensor.Randn(new[] { 2, 3, 5 }, rng);
        lin.Forward(x).Backward(g);
        var (dx, dw, db) = (x.Grad!.ToArray(), lin.Weight.Grad!.ToArray(), lin.Bias!.Grad!.ToArray());
        x.ZeroGrad(); lin.ZeroGrad();
        var y2 = x.Matmul(lin.Weight.T) + lin.Bias;
        y2.Backward(g);
        Assert.Equal(y2.ToArray(), lin.Forward(x).ToArray(), new FloatClose(1e-5f));
        Assert.Equal(x.Grad!.ToArray(), dx, new FloatClose(1e-5f));
        Assert.Equal(lin.Weight.Grad!.ToArray(), dw, new FloatClose(1e-5f));
        Assert.Equal(lin.Bias.Grad!.ToArray(), db, new FloatClose(1e-5f));
    }

    [Fact]
    public void FeedForwardVariantsHavePyTorchAndLlamaNames()
    {
        Assert.Equal(new[] { "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias" },
            new FeedForward(8, 16, "gelu").NamedParameters().Select(p => p.Name));
        Assert.Equal(new[] { "w1.weight", "w2.weight", "w3.weight" },
            new FeedForward(8, 16, "swiglu", bias: false).NamedParameters().Select(p => p.Name));
        Assert.Throws<ArgumentException>(() => new FeedForward(8, 16, "tanh"));
    }

    private sealed class FloatClose(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tol * (1 + Math.Abs(b));
        public int GetHashCode(float v) => 0;
    }
}
