using System.Diagnostics;
using Attend;
using Attend.Optim;
using F = Attend.Functional;

namespace Attend.Cli;

/// <summary>
/// The README's main job: scaled dot-product attention by hand on four tokens, then a one-layer self-attention model
/// trained with autograd to reverse digit sequences — the learned attention map is the anti-diagonal.
/// (Issue 6 replaces this with the date-normalization Transformer.)
/// </summary>
internal static class Quickstart
{
    const int V = 10, T = 8, D = 32, Batch = 64;   // vocabulary (digits), sequence length, model width, batch

    public static int Run(int steps, int seed)
    {
        if (steps <= 0) { Console.Error.WriteLine("error: --steps must be positive"); return 2; }
        Part1();
        return Part2(steps, seed);
    }

    /// <summary>softmax(QKᵀ/√d)V on 4 tokens of width 4, printed step by step.</summary>
    private static void Part1()
    {
        Console.WriteLine("1) Scaled dot-product attention, softmax(QKᵀ/√d)·V, on 4 tokens (d = 4):");
        var rng = new Random(1);
        using var scope = Tensor.NewScope();
        var q = Tensor.Randn(new[] { 4, 4 }, rng); var k = Tensor.Randn(new[] { 4, 4 }, rng); var v = Tensor.Randn(new[] { 4, 4 }, rng);
        var scores = q.Matmul(k.T) / MathF.Sqrt(4);        // (4, 4): how well each query matches each key
        var weights = F.Softmax(scores, -1);                // rows sum to 1
        var output = weights.Matmul(v);                     // (4, 4): each row a weighted mix of V's rows
        Console.WriteLine("   attention weights (row = query, column = key):");
        PrintMatrix(weights, "   ");
        Console.WriteLine($"   output row 0 = {Fmt(output.Select(0, 0))}");
        Console.WriteLine();
    }

    private static int Part2(int steps, int seed)
    {
        Console.WriteLine($"2) A self-attention layer learns to reverse {T}-digit sequences ({steps} Adam steps, batch {Batch}, d = {D}):");
        var rng = new Random(seed);
        Tensor P(params int[] shape) => Tensor.Randn(shape, rng).Mul(0.3f).Detach().Also(t => t.RequiresGrad = true);
        var tokEmb = P(V, D); var posEmb = P(T, D);
        var wq = P(D, D); var wk = P(D, D); var wv = P(D, D); var wo = P(D, V);
        var parameters = new[] { tokEmb, posEmb, wq, wk, wv, wo };
        using var adam = new AdamW(parameters.Select((p, i) => ($"p{i}", p)), lr: 0.01, weightDecay: 0);

        (Tensor logits, Tensor att) Forward(Tensor ids)
        {
            var x = F.Embedding(ids, tokEmb) + posEmb;                  // (B, T, D)
            var q = x.Matmul(wq); var k = x.Matmul(wk); var v = x.Matmul(wv);
            var att = F.Softmax(q.Matmul(k.Transpose(1, 2)) / MathF.Sqrt(D), -1);   // (B, T, T)
            return ((att.Matmul(v)).Matmul(wo), att);                    // (B, T, V)
        }

        var sw = Stopwatch.StartNew();
        for (int step = 1; step <= steps; step++)
        {
            using var scope = Tensor.NewScope();
            var (ids, target) = Batch_(rng, Batch);
            var (logits, _) = Forward(ids);
            var loss = F.CrossEntropy(logits.Reshape(-1, V), target.Reshape(-1));
            adam.ZeroGrad();
            loss.Backward();
            adam.Step();
            if (step == 1 || step % 100 == 0 || step == steps)
                Console.WriteLine($"   step {step,4}  loss {loss.Item():F4}  ({sw.Elapsed.TotalSeconds:F1} s)");
        }

        using (Autograd.NoGrad())
        using (Tensor.NewScope())
        {
            var (ids, target) = Batch_(new Random(seed + 1000), 1000);   // held-out sequences
            var (logits, att) = Forward(ids);
            var pred = logits.Max(-1).Indices.ToInt64Array();
            var want = target.ToInt64Array();
            double tokenAcc = pred.Zip(want).Count(p => p.First == p.Second) / (double)want.Length;
            int seqOk = Enumerable.Range(0, 1000).Count(i => Enumerable.Range(0, T).All(t => pred[i * T + t] == want[i * T + t]));
            Console.WriteLine($"   held-out: {tokenAcc * 100:F1}% of digits and {seqOk / 10.0:F1}% of sequences reversed exactly");
            var first = ids.Select(0, 0).ToInt64Array();
            Console.WriteLine($"   input {string.Join("", first)} → output {string.Join("", pred.Take(T))}");
            Console.WriteLine("   its attention map (row = output position, column = input position; darker = more weight):");
            PrintShades(att.Select(0, 0), "   ");
        }
        return 0;
    }

    /// <summary>Random digit sequences and their reversals, as int64 (B, T).</summary>
    private static (Tensor ids, Tensor target) Batch_(Random rng, int b)
    {
        var x = new long[b * T]; var y = new long[b * T];
        for (int i = 0; i < b; i++)
            for (int t = 0; t < T; t++) x[i * T + t] = rng.Next(V);
        for (int i = 0; i < b; i++)
            for (int t = 0; t < T; t++) y[i * T + t] = x[i * T + (T - 1 - t)];
        return (Tensor.FromArray(x, new[] { b, T }), Tensor.FromArray(y, new[] { b, T }));
    }

    private static string Fmt(Tensor t) => "[" + string.Join(", ", t.ToArray().Select(v => v.ToString("0.000"))) + "]";

    private static void PrintMatrix(Tensor m, string indent)
    {
        int cols = m.Shape[1];
        var v = m.ToArray();
        for (int r = 0; r < m.Shape[0]; r++)
            Console.WriteLine(indent + string.Join("  ", Enumerable.Range(0, cols).Select(c => v[r * cols + c].ToString("0.000"))));
    }

    private static void PrintShades(Tensor m, string indent)
    {
        const string shades = " ░▒▓█";
        int cols = m.Shape[1];
        var v = m.ToArray();
        for (int r = 0; r < m.Shape[0]; r++)
            Console.WriteLine(indent + string.Concat(Enumerable.Range(0, cols).Select(c =>
                new string(shades[Math.Min(shades.Length - 1, (int)(v[r * cols + c] * shades.Length))], 2))));
    }

    private static T Also<T>(this T t, Action<T> a) { a(t); return t; }
}
