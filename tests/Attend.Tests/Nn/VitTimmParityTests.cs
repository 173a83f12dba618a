using System.Globalization;
using Attend.Nn;
using Attend.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests;

/// <summary>
/// The ViT against a timm-layout ViT in PyTorch (Fixtures/vit/vit_timm.safetensors, written by
/// tools/oracle/make_vit_fixtures.py): the state dict under timm's names with patch_embed.proj.weight the 4-D conv kernel,
/// loaded by <see cref="VisionTransformer.LoadTimmStateDict"/>; the logits, and after backpropagating the stored upstream
/// gradient every parameter's gradient and the images' gradient, all against a float64 reference:
/// |actual − expected| ≤ 1e-5 + 1e-5·|expected|. Then the loader's round trip and its errors.
/// </summary>
public sealed class VitTimmParityTests(ITestOutputHelper output)
{
    private static readonly string FixturePath = Path.Combine(AppContext.BaseDirectory, "Fixtures", "vit", "vit_timm.safetensors");
    private const float Atol = 1e-5f, Rtol = 1e-5f;   // measured: ≤ 3.9e-6 abs everywhere (see the test output)
    private const string PatchWeight = "patch_embed.proj.weight";

    private static SafeTensorsFile File_() => SafeTensorsFile.Read(FixturePath);

    private static Tensor F32(SafeTensorEntry e, bool requiresGrad = false) => Tensor.FromArray(e.ToFloats(), e.Shape, requiresGrad);

    /// <summary>timm's state dict from the file (keys without the "state." prefix).</summary>
    private static Dictionary<string, Tensor> TimmState(SafeTensorsFile f) =>
        f.Tensors.Keys.Where(k => k.StartsWith("state.", StringComparison.Ordinal)).ToDictionary(k => k["state.".Length..], k => F32(f[k]));

    /// <summary>The VitConfig for the file's timm constructor arguments; a setting VitConfig cannot express fails.</summary>
    private static VitConfig Config(SafeTensorsFile f)
    {
        var m = f.Metadata;
        int I(string k) => int.Parse(m[k], CultureInfo.InvariantCulture);
        Assert.Equal("True", m["class_token"]);
        Assert.Equal("token", m["global_pool"]);
        Assert.Equal("True", m["qkv_bias"]);
        Assert.Equal(1e-6, double.Parse(m["norm_eps"], CultureInfo.InvariantCulture));   // VitBlock's and the final norm's eps
        double ratio = double.Parse(m["mlp_ratio"], CultureInfo.InvariantCulture);
        Assert.Equal(Math.Round(ratio), ratio);
        return new VitConfig(ImageSize: I("img_size"), PatchSize: I("patch_size"), Channels: I("in_chans"), NumClasses: I("num_classes"),
            Dim: I("embed_dim"), Depth: I("depth"), NHead: I("num_heads"), MlpRatio: (int)ratio);
    }

    private static VisionTransformer Loaded(SafeTensorsFile f)
    {
        var vit = new VisionTransformer(Config(f), new Random(1));
        var r = vit.LoadTimmStateDict(TimmState(f));   // strict
        Assert.Empty(r.MissingKeys);
        Assert.Empty(r.UnexpectedKeys);
        return vit;
    }

    [Theory]
    [InlineData(true)]    // every block on every token
    [InlineData(false)]   // the default: the last block computes the [CLS] token alone
    public void LogitsAndEveryGradientMatchTimmLayoutPyTorch(bool allTokens)
    {
        var f = File_();
        var vit = Loaded(f);
        var x = F32(f["in.x"], requiresGrad: true);
        var logits = vit.Forward(x, allTokens);
        Assert.Equal(f["out"].Shape, logits.Shape);
        double worst = PositionalEncodingTests.AssertClose(f["out"].ToFloats(), logits.ToArray(), "logits", output, Atol, Rtol);
        logits.Backward(F32(f["gout"]));
        worst = Math.Max(worst, PositionalEncodingTests.AssertClose(f["grad_in.x"].ToFloats(), x.Grad!.ToArray(), "grad images", output, Atol, Rtol));
        int n = 0;
        foreach (var (name, p) in vit.NamedParameters())
        {
            // Row-major, so the [D, Ch·P·P] Linear gradient and timm's [D, Ch, P, P] conv gradient are the same numbers.
            var expected = f["grad." + name];
            Assert.Equal(expected.ElementCount, p.NumEl);
            worst = Math.Max(worst, PositionalEncodingTests.AssertClose(expected.ToFloats(), p.Grad!.ToArray(), "grad " + name, output, Atol, Rtol));
            n++;
        }
        Assert.Equal(f.Tensors.Keys.Count(k => k.StartsWith("grad.", StringComparison.Ordinal)), n);
        output.WriteLine($"allTokens {allTokens}: max |Δ| over logits, the images' gradient and {n} parameter gradients: {worst:G3}");
    }

    [Fact]
    public void TimmStateDictGivesTheConvKernelBackAndRoundTripsThroughSafeTensors()
    {
        var f = File_();
        var vit = Loaded(f);
        var timm = vit.TimmStateDict();
        Assert.Equal(TimmState(f).Keys.Order(StringComparer.Ordinal), timm.Keys.Order(StringComparer.Ordinal));
        foreach (var (k, t) in timm)
        {
            Assert.Equal(f["state." + k].Shape, t.Shape);
            Assert.Equal(f["state." + k].ToFloats(), t.ToArray());   // bit for bit
        }
        Assert.Equal(new[] { 48, 3, 4, 4 }, timm[PatchWeight].Shape);
        Assert.Equal(new[] { 48, 48 }, vit.StateDict()[PatchWeight].Shape);   // Attend's own layout is unchanged

        string path = Path.Combine(Path.GetTempPath(), $"attend-vit-timm-{Environment.ProcessId}.safetensors");
        try
        {
            Attend.IO.SafeTensors.Save(path, timm);
            var again = new VisionTransformer(vit.Config, new Random(2));
            again.LoadTimmStateDict(Attend.IO.SafeTensors.Load(path));
            var a = vit.StateDict();
            foreach (var (k, t) in again.StateDict()) Assert.Equal(a[k].ToArray(), t.ToArray());
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(new[] { 48, 48 }, "[48, 48]")]            // Attend's own Linear layout, not timm's
    [InlineData(new[] { 48, 3, 2, 2 }, "[48, 3, 2, 2]")]  // a patch-2 checkpoint
    [InlineData(new[] { 3, 48, 4, 4 }, "[3, 48, 4, 4]")]  // in/out channels swapped
    public void AConvWeightOfTheWrongShapeNamesTheKeyAndBothShapesAndChangesNothing(int[] shape, string shown)
    {
        var f = File_();
        var vit = new VisionTransformer(Config(f), new Random(3));
        var before = vit.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        var state = TimmState(f);
        state[PatchWeight] = Tensor.Zeros(shape);
        var e = Assert.Throws<ArgumentException>(() => vit.LoadTimmStateDict(state));
        output.WriteLine(e.Message);
        Assert.Contains($"size mismatch for {PatchWeight}: checkpoint has {shown}, this model has [48, 3, 4, 4]", e.Message);
        Assert.Single(e.Message.Split('\n'), l => l.Contains("mismatch"));
        foreach (var (k, t) in vit.StateDict()) Assert.Equal(before[k], t.ToArray());
    }

    [Fact]
    public void MissingAndUnexpectedKeysAreNamedWithTimmsShapes()
    {
        var f = File_();
        var vit = new VisionTransformer(Config(f), new Random(4));
        var state = TimmState(f);
        state.Remove(PatchWeight);
        state.Remove("blocks.1.attn.qkv.bias");
        state["fc_norm.weight"] = Tensor.Ones(48);   // a global_pool='avg' checkpoint's norm
        var e = Assert.Throws<ArgumentException>(() => vit.LoadTimmStateDict(state));
        output.WriteLine(e.Message);
        Assert.Contains($"missing key: {PatchWeight} [48, 3, 4, 4]", e.Message);
        Assert.Contains("missing key: blocks.1.attn.qkv.bias [144]", e.Message);
        Assert.Contains("unexpected key: fc_norm.weight [48]", e.Message);

        // Not strict: the rest loads and the unmatched names come back.
        var r = vit.LoadTimmStateDict(state, strict: false);
        Assert.Equal(new[] { "blocks.1.attn.qkv.bias", PatchWeight }, r.MissingKeys);
        Assert.Equal(new[] { "fc_norm.weight" }, r.UnexpectedKeys);
        Assert.Equal(f["state.head.weight"].ToFloats(), vit.StateDict()["head.weight"].ToArray());
        Assert.NotEqual(f["state." + PatchWeight].ToFloats(), vit.StateDict()[PatchWeight].ToArray());
    }
}
