using Attend.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests;

/// <summary>
/// Every op against real PyTorch: each file in Fixtures/ops (written by tools/oracle/make_fixtures.py) holds the
/// inputs in0, in1, …, the output(s), an upstream gradient gout and PyTorch's input gradients grad_inK.
/// A case here applies the Attend op to the loaded inputs; the test compares the output, runs the backward with
/// gout, and compares every input gradient. Tolerance: |actual − expected| ≤ 1e-5 + 1e-4·|expected|.
/// </summary>
public sealed class PyTorchFixtureTests(ITestOutputHelper output)
{
    private const float Atol = 1e-5f;
    private const float Rtol = 1e-4f;

    private static readonly string FixtureDir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "ops");

    // Dims legend (as in make_fixtures.py): N = samples, C = classes, D = features, V = vocabulary.
    // Arguments repeat the ones the Python side used (also in each file's __metadata__).
    private static readonly Dictionary<string, Func<FixtureInputs, Tensor[]>> Cases = new()
    {
        // elementwise, with broadcasting
        ["add"] = One(t => t[0] + t[1]),
        ["add_broadcast"] = One(t => t[0] + t[1]),                // [2,3,4] + [4]
        ["add_broadcast2"] = One(t => t[0].Add(t[1])),             // [2,1,4] + [3,1] -> [2,3,4]
        ["sub_broadcast"] = One(t => t[0] - t[1]),                 // [3,1,5] - [4,1] -> [3,4,5]
        ["mul_broadcast"] = One(t => t[0] * t[1]),                 // [2,3,4] * [3,1]
        ["div_broadcast"] = One(t => t[0] / t[1]),                 // [2,3,4] / [1,4]
        ["neg"] = One(t => t[0].Neg()),
        ["pow_scalar3"] = One(t => t[0].Pow(3f)),
        ["pow_scalar_half"] = One(t => t[0].Pow(0.5f)),
        ["pow_tensor"] = One(t => t[0].Pow(t[1])),                 // [3,4,5] ** [4,5]
        ["sqrt"] = One(t => t[0].Sqrt()),
        ["exp"] = One(t => t[0].Exp()),
        ["log"] = One(t => t[0].Log()),
        ["abs"] = One(t => t[0].Abs()),
        ["clamp"] = One(t => t[0].Clamp(-0.5f, 0.5f)),
        ["clamp_min_only"] = One(t => t[0].Clamp(0.1f, null)),

        // matmul in every rank combination
        ["matmul_2d"] = One(t => t[0].Matmul(t[1])),               // [3,4] @ [4,5]
        ["matmul_batched"] = One(t => t[0].Matmul(t[1])),          // [2,3,4,5] @ [2,3,5,6]
        ["matmul_broadcast"] = One(t => Functional.Matmul(t[0], t[1])), // [2,1,4,5] @ [3,5,6] -> [2,3,4,6]
        ["matmul_vec_left"] = One(t => t[0].Matmul(t[1])),         // [5] @ [5,6] -> [6]
        ["matmul_vec_right"] = One(t => t[0].Matmul(t[1])),        // [4,5] @ [5] -> [4]
        ["matmul_vec_dot"] = One(t => t[0].Matmul(t[1])),          // [5] @ [5] -> []
        ["matmul_batched_vec"] = One(t => t[0].Matmul(t[1])),      // [2,4,5] @ [5] -> [2,4]

        // reductions
        ["sum_all"] = One(t => t[0].Sum()),
        ["sum_dim"] = One(t => t[0].Sum(1)),
        ["sum_dims_keepdim"] = One(t => t[0].Sum([0, 2], keepdim: true)),
        ["mean_dim"] = One(t => t[0].Mean(-1)),
        ["mean_all"] = One(t => t[0].Mean()),
        ["max_dim"] = t =>
        {
            var (values, indices) = t[0].Max(1);
            return [values, indices];
        },
        ["max_all"] = One(t => t[0].Max()),
        ["var_dim"] = One(t => t[0].Var(1)),
        ["var_dims_correction0"] = One(t => t[0].Var([0, 2], correction: 0)),

        // activations
        ["relu"] = One(t => Functional.Relu(t[0])),
        ["gelu_erf"] = One(t => Functional.Gelu(t[0])),
        ["gelu_tanh"] = One(t => Functional.Gelu(t[0], approximate: "tanh")),
        ["silu"] = One(t => Functional.Silu(t[0])),
        ["tanh"] = One(t => Functional.Tanh(t[0])),
        ["sigmoid"] = One(t => Functional.Sigmoid(t[0])),

        // softmax
        ["softmax_last"] = One(t => Functional.Softmax(t[0], dim: -1)),
        ["softmax_dim0"] = One(t => Functional.Softmax(t[0], dim: 0)),
        ["log_softmax_last"] = One(t => Functional.LogSoftmax(t[0], dim: -1)),
        ["log_softmax_dim1"] = One(t => Functional.LogSoftmax(t[0], dim: 1)),

        // cross-entropy: logits [N,C] (or [N,C,d1]), I64 class targets or F32 probability targets
        ["cross_entropy_basic"] = One(t => Functional.CrossEntropy(t[0], t[1])),
        ["cross_entropy_ignore_index"] = One(t => Functional.CrossEntropy(t[0], t[1], ignoreIndex: -100)),
        ["cross_entropy_label_smoothing"] = One(t => Functional.CrossEntropy(t[0], t[1], labelSmoothing: 0.1f)),
        ["cross_entropy_smoothing_ignore"] = One(t =>
            Functional.CrossEntropy(t[0], t[1], ignoreIndex: -100, labelSmoothing: 0.1f)),
        ["cross_entropy_weight_smoothing"] = One(t =>
            Functional.CrossEntropy(t[0], t[1], weight: t["w"], ignoreIndex: -100, labelSmoothing: 0.1f)),
        ["cross_entropy_sum"] = One(t => Functional.CrossEntropy(t[0], t[1], reduction: Reduction.Sum)),
        ["cross_entropy_none"] = One(t => Functional.CrossEntropy(t[0], t[1], reduction: Reduction.None)),
        ["cross_entropy_kdim"] = One(t => Functional.CrossEntropy(t[0], t[1])),   // [3,5,4] with targets [3,4]
        ["cross_entropy_probs"] = One(t => Functional.CrossEntropy(t[0], t[1])),  // targets: F32 rows summing to 1

        // layer norm over the trailing normalized shape, eps 1e-5
        ["layer_norm"] = One(t => Functional.LayerNorm(t[0], [5], t[1], t[2], eps: 1e-5f)),
        ["layer_norm_2d"] = One(t => Functional.LayerNorm(t[0], [4, 5], t[1], t[2], eps: 1e-5f)),
        ["layer_norm_noaffine"] = One(t => Functional.LayerNorm(t[0], [5], eps: 1e-5f)),

        // embedding: ids [2,5] (I64, with repeats) into weight [V=10, D=4]
        ["embedding"] = One(t => Functional.Embedding(t[0], t[1])),
        ["embedding_padding_idx"] = One(t => Functional.Embedding(t[0], t[1], paddingIdx: 0)),

        // joining, splitting, selecting, views
        ["cat_dim1"] = One(t => Functional.Cat([t[0], t[1], t[2]], dim: 1)),
        ["stack_dim0"] = One(t => Functional.Stack([t[0], t[1], t[2]], dim: 0)),
        ["split_sizes"] = t => Functional.Split(t[0], [2, 3], dim: 0),
        ["chunk"] = t => Functional.Chunk(t[0], 3, dim: 1),
        ["masked_fill"] = One(t => Functional.MaskedFill(t[0], t[1], -1e9f)),  // BOOL mask [3,4] over [2,3,4]
        ["where"] = One(t => Functional.Where(t[0], t[1], t[2])),             // cond [3,4], a [2,3,4], b [4]
        ["gather_dim1"] = One(t => t[0].Gather(1, t[1])),
        ["tril"] = One(t => t[0].Tril()),
        ["triu_k1"] = One(t => Functional.Triu(t[0], diagonal: 1)),
        ["transpose_contiguous"] = One(t => t[0].Transpose(0, 2).Contiguous()),
        ["permute"] = One(t => t[0].Permute(2, 0, 1)),
        ["narrow"] = One(t => t[0].Narrow(1, 1, 3)),
        ["expand_sum"] = One(t => t[0].Expand(2, 3, 4).Sum(0)),              // [3,1] -> [2,3,4] -> [3,4]
        ["reshape"] = One(t => t[0].Reshape(4, 6)),
        ["reshape_noncontig"] = One(t => t[0].Transpose(1, 2).Reshape(2, 12)),
    };

    private static Func<FixtureInputs, Tensor[]> One(Func<FixtureInputs, Tensor> op) => t => [op(t)];

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var name in Cases.Keys.Order(StringComparer.Ordinal))
            data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesPyTorch(string name)
    {
        var result = RunCase(name);
        foreach (var line in result.Lines)
            output.WriteLine(line);
        Assert.True(result.Failures.Count == 0, string.Join("\n", result.Failures));
    }

    /// <summary>All cases in one run, for the summary: the max error per case and the largest error seen.</summary>
    [Fact]
    public void Summary_LargestErrorAcrossAllFixtures()
    {
        double largest = 0;
        string largestWhere = "";
        var failed = new List<string>();
        foreach (var name in Cases.Keys.Order(StringComparer.Ordinal))
        {
            var result = RunCase(name);
            output.WriteLine($"{name,-32} max abs error {result.MaxError:E2} (in {result.MaxErrorTensor})" +
                             (result.Failures.Count == 0 ? "" : "  FAILED"));
            if (result.MaxError > largest)
                (largest, largestWhere) = (result.MaxError, $"{name}/{result.MaxErrorTensor}");
            if (result.Failures.Count > 0)
                failed.Add(string.Join("; ", result.Failures));
        }
        output.WriteLine($"largest fixture error seen: {largest:E3} ({largestWhere}), {Cases.Count} cases, " +
                         $"{failed.Count} failed");
        Assert.True(failed.Count == 0, $"{failed.Count} fixture cases failed:\n" + string.Join("\n", failed));
    }

    [Fact]
    public void EveryFixtureFileHasACaseAndEveryCaseHasAFile() => FixtureFiles.AssertCasesMatchFiles(FixtureDir, Cases.Keys);

    // ---------------------------------------------------------------------------------------------------------

    private sealed record CaseResult(List<string> Lines, List<string> Failures, double MaxError, string MaxErrorTensor);

    /// <summary>Load, run forward, compare outputs, run backward with gout, compare input gradients.</summary>
    private static CaseResult RunCase(string name)
    {
        var file = SafeTensorsFile.Read(Path.Combine(FixtureDir, name + ".safetensors"));
        var inputs = new FixtureInputs(file);
        var lines = new List<string>();
        var failures = new List<string>();
        double maxError = 0;
        string maxErrorTensor = "-";

        void Record(string tensorName, Comparison c)
        {
            lines.Add($"{name}/{tensorName}: {c.Summary}");
            if (!double.IsNaN(c.MaxAbsError) && (c.MaxAbsError > maxError || maxErrorTensor == "-"))
                (maxError, maxErrorTensor) = (c.MaxAbsError, tensorName);
            if (!c.Ok)
                failures.Add($"{name}/{tensorName}: {c.Summary}");
        }

        Tensor[] outs;
        try
        {
            outs = Cases[name](inputs);
        }
        catch (Exception e)
        {
            failures.Add($"{name}: forward threw {Describe(e)}");
            return new CaseResult(lines, failures, double.NaN, "forward");
        }

        bool multi = outs.Length > 1;
        string OutName(int i) => multi ? $"out{i}" : "out";
        string GoutName(int i) => multi ? $"gout{i}" : "gout";
        if (!file.Contains(OutName(outs.Length - 1)) || (multi && file.Contains($"out{outs.Length}")))
        {
            failures.Add($"{name}: the op returned {outs.Length} outputs; the file has a different number");
            return new CaseResult(lines, failures, double.NaN, "forward");
        }

        // 1) outputs
        for (int i = 0; i < outs.Length; i++)
            Record(OutName(i), Compare(outs[i], file[OutName(i)]));

        // 2) backward: straight from the one float output with gout, or through sum_k(out_k * gout_k)
        var withGrad = Enumerable.Range(0, outs.Length).Where(i => file.Contains(GoutName(i))).ToList();
        var gradNames = file.Tensors.Keys.Where(k => k.StartsWith("grad_", StringComparison.Ordinal)).Order().ToList();
        if (gradNames.Count == 0)
            return new CaseResult(lines, failures, maxError, maxErrorTensor);
        try
        {
            Tensor Gout(int i) => FixtureInputs.Load(file[GoutName(i)], requiresGrad: false);
            if (withGrad.Count == 1)
            {
                outs[withGrad[0]].Backward(Gout(withGrad[0]));
            }
            else
            {
                Tensor loss = (outs[withGrad[0]] * Gout(withGrad[0])).Sum();
                foreach (int i in withGrad.Skip(1))
                    loss = loss + (outs[i] * Gout(i)).Sum();
                loss.Backward();
            }
        }
        catch (Exception e)
        {
            failures.Add($"{name}: backward threw {Describe(e)}");
            return new CaseResult(lines, failures, maxError, maxErrorTensor);
        }

        // 3) input gradients
        foreach (var gradName in gradNames)
        {
            var leaf = inputs[gradName["grad_".Length..]];
            if (leaf.Grad is null)
                failures.Add($"{name}/{gradName}: the input's Grad is null after Backward");
            else
                Record(gradName, Compare(leaf.Grad, file[gradName]));
        }
        return new CaseResult(lines, failures, maxError, maxErrorTensor);
    }

    /// <summary>Exception type, message and the frame that threw, so a failing op points at its code.</summary>
    private static string Describe(Exception e) =>
        $"{e.GetType().Name}: {e.Message} ({e.StackTrace?.Split('\n')[0].Trim()})";

    private sealed record Comparison(bool Ok, double MaxAbsError, string Summary);

    /// <summary>Shape must match exactly; floats within atol + rtol·|expected|, integers exactly.</summary>
    private static Comparison Compare(Tensor actual, SafeTensorEntry expected)
    {
        string Shape(int[] s) => "[" + string.Join(", ", s) + "]";
        if (!actual.Shape.SequenceEqual(expected.Shape))
            return new Comparison(false, double.NaN, $"shape {Shape(actual.Shape)}, expected {Shape(expected.Shape)}");

        if (expected.DType == "I64")
        {
            var got = actual.ToInt64Array();
            var want = expected.ToInt64s();
            if (got.Length != want.Length)
                return new Comparison(false, double.NaN, $"ToInt64Array() gave {got.Length} values for shape {Shape(expected.Shape)}");
            int bad = Enumerable.Range(0, want.Length).FirstOrDefault(i => got[i] != want[i], -1);
            return bad < 0
                ? new Comparison(true, 0, "I64 exact")
                : new Comparison(false, double.NaN, $"first mismatch at {Index(bad, expected.Shape)}: {got[bad]} vs {want[bad]}");
        }

        var a = actual.ToArray();
        var b = expected.ToFloats();
        if (a.Length != b.Length)
            return new Comparison(false, double.NaN, $"ToArray() gave {a.Length} values for shape {Shape(expected.Shape)}");
        double maxAbs = 0;
        int first = -1;
        for (int i = 0; i < b.Length; i++)
        {
            double err = Math.Abs((double)a[i] - b[i]);
            if (double.IsNaN(err))
                err = double.PositiveInfinity;
            maxAbs = Math.Max(maxAbs, err);
            if (first < 0 && !(err <= Atol + Rtol * Math.Abs(b[i])))
                first = i;
        }
        return first < 0
            ? new Comparison(true, maxAbs, $"max abs error {maxAbs:E2}")
            : new Comparison(false, maxAbs,
                $"first mismatch at {Index(first, expected.Shape)}: got {a[first]:R}, expected {b[first]:R} " +
                $"(|diff| {Math.Abs(a[first] - b[first]):E2} > {Atol} + {Rtol}·|expected|); max abs error {maxAbs:E2}");
    }

    /// <summary>Row-major flat index to a multi-index, e.g. 7 in [2,4] -> [1, 3].</summary>
    private static string Index(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        return "[" + string.Join(", ", idx) + "]";
    }

    /// <summary>
    /// The inputs of one fixture as Attend tensors, built once so that their Grad can be read after Backward:
    /// t[0] is in0, t["w"] a named one. An F32 input requires grad exactly when the file holds its grad_inK.
    /// </summary>
    private sealed class FixtureInputs(SafeTensorsFile file)
    {
        private readonly Dictionary<string, Tensor> _tensors = new();

        public Tensor this[int index] => this[$"in{index}"];

        public Tensor this[string name]
        {
            get
            {
                if (!_tensors.TryGetValue(name, out var t))
                    _tensors[name] = t = Load(file[name], requiresGrad: file.Contains("grad_" + name));
                return t;
            }
        }

        public static Tensor Load(SafeTensorEntry entry, bool requiresGrad) => entry.DType switch
        {
            "F32" => Tensor.FromArray(entry.ToFloats(), entry.Shape, requiresGrad),
            "I64" => Tensor.FromArray(entry.ToInt64s(), entry.Shape),
            "BOOL" => Tensor.FromArray(entry.ToBools(), entry.Shape),
            _ => throw new InvalidDataException($"tensor '{entry.Name}': unexpected dtype {entry.DType}"),
        };
    }
}
